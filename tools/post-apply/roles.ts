/**
 * Lakebase roles for the workspace identities the configuration grants database access to. On Lakebase a
 * user, group or service principal has no Postgres role until someone creates it, so the runner creates
 * each one through the instance roles API before granting (idempotent: an existing role is kept).
 */
import type { Report } from "../lib/step-error";
import { identityTypeOf, type Workspace } from "../lib/workspace";

/** A role the configuration names, and where: `origin` goes into errors (file and field). */
export interface ConfiguredRole {
  readonly name: string;
  readonly origin: string;
}

/** Creates the missing roles (with `dryRun`, only reports them); returns the names it created (would create). */
export async function ensureRoles(
  workspace: Workspace,
  instance: string,
  roles: readonly ConfiguredRole[],
  dryRun: boolean,
  report: Report,
): Promise<string[]> {
  const created: string[] = [];
  for (const role of roles) {
    const identityType = identityTypeOf(role.name);
    const isNew = dryRun
      ? !(await workspace.hasInstanceRole(instance, role.name))
      : await workspace.createInstanceRole(instance, { ...role, identityType });
    if (!isNew) continue;
    created.push(role.name);
    report(
      dryRun ? "would create" : "roles",
      `${identityType.toLowerCase().replace("_", " ")} role "${role.name}"${dryRun ? "" : " created"}`,
    );
  }
  if (roles.length && !created.length) report("roles", `${roles.map((r) => `"${r.name}"`).join(", ")} exist`);
  return created;
}
