/**
 * The post-apply run, whichever entry point built its inputs: migrate the app schema as the deploying
 * identity, then make the app role's access exactly what the configuration says and verify it.
 *
 *   files → identity → instance AVAILABLE → database credential → connect (TLS) → roles of the configured
 *   identities → lock → schema + history → each pending migration in its own transaction → verify access
 *   → (grant → verify again, if needed)
 *
 * Everything that can be checked before changing the database is: file names and numbering, checksums of
 * applied files, the syntax of every pending file. With `dryRun` it stops before the lock and reports what
 * it would do instead.
 */
import type pg from "pg";
import { findAccessProblems, grantAccess, grantStatements, type AccessProblem } from "../lib/lakebase/access";
import { type RoleAccess, rolesToGrant } from "../lib/lakebase/access-levels";
import { applyMigrations } from "./apply-migrations";
import type { PostApplyInputs } from "../lib/post-apply-inputs";
import { acquireMigrationLock } from "./migration-lock";
import { readMigrationFiles, type MigrationFile } from "../lib/migration-folder";
import { beginMigrating, pendingMigrations, readHistory } from "../lib/lakebase/migration-history";
import { splitStatements } from "./migration-statements";
import { ensureRoles } from "./roles";
import { connectAsDeployer } from "../lib/lakebase/session";
import { inStep, listProblems, type Report, StepError } from "../lib/step-error";
import type { Workspace } from "../lib/workspace";

export interface Outcome {
  /** Whether the run changed something (with dryRun: would change something). */
  readonly changed: boolean;
}

export async function postApply(inputs: PostApplyInputs, workspace: Workspace, report: Report): Promise<Outcome> {
  const started = Date.now();
  const roles = rolesToGrant(inputs);
  report(
    "target",
    `schema "${inputs.schema}" of database "${inputs.database}" on instance "${inputs.instance}"${inputs.dryRun ? " (dry run: nothing will be changed)" : ""}`,
  );

  const files = readMigrationFiles(inputs.migrationsDir);
  report("files", `${files.length} migration${files.length === 1 ? "" : "s"}`);

  const { db, deployer } = await connectAsDeployer(inputs, workspace, report);
  try {
    const configured = inputs.readOnlyRoles.map((name, i) => ({
      name,
      origin: `${inputs.configFile}: database.readOnlyRoles[${i}]`,
    }));
    const newRoles = await inStep("roles", () =>
      ensureRoles(workspace, inputs.instance, configured, inputs.dryRun, report),
    );
    const run = inputs.dryRun ? dryRun : apply;
    const changed = (await run({ db, inputs, files, deployer, roles, newRoles, report })) || newRoles.length > 0;
    report(
      "done",
      `${inputs.dryRun ? (changed ? "changes pending" : "nothing to do") : changed ? "changes applied" : "nothing to do"} (${Date.now() - started} ms)`,
    );
    return { changed };
  } finally {
    // Ending the session also releases the migration lock.
    await db.end().catch(() => undefined);
  }
}

interface Session {
  readonly db: pg.Client;
  readonly inputs: PostApplyInputs;
  readonly files: readonly MigrationFile[];
  readonly deployer: string;
  readonly roles: readonly RoleAccess[];
  /** Roles this run created (with dryRun: would create) through the instance roles API. */
  readonly newRoles: readonly string[];
  readonly report: Report;
}

async function apply({ db, inputs, files, deployer, roles, report }: Session): Promise<boolean> {
  const { schema } = inputs;
  await inStep("lock", () =>
    acquireMigrationLock(db, schema, inputs.lockTimeoutSeconds, () =>
      report("lock", `another runner holds the migration lock; waiting up to ${inputs.lockTimeoutSeconds} s`),
    ),
  );
  report("lock", "acquired");

  const applied = await inStep("migrations", () => migrate(db, inputs, files, report));

  const problems = await inStep("verify", () => findAccessProblems(db, schema, inputs.appRole, roles));
  if (problems.length) {
    failOnUnfixable(problems);
    await inStep("grant", () => grantAccess(db, grantStatements(schema, deployer, inputs.appRole, roles)));
    report("grant", roles.map(({ role, level }) => `${level} to "${role}"`).join(", "));
    const remaining = await inStep("verify", () => findAccessProblems(db, schema, inputs.appRole, roles));
    if (remaining.length)
      throw new StepError(
        "verify",
        `access is still not as configured after granting: ${listProblems(remaining.map((p) => p.message))}`,
      );
  }
  report(
    "verify",
    `${roles.map(({ role, level }) => `"${role}" has ${level}`).join(", ")} on schema "${schema}", and owns nothing in it`,
  );
  return applied > 0 || problems.length > 0;
}

/** Applies the pending migrations; returns how many. On failure the open transaction is rolled back. */
async function migrate(
  db: pg.Client,
  { schema, statementBounds }: PostApplyInputs,
  files: readonly MigrationFile[],
  report: Report,
): Promise<number> {
  const applied = await beginMigrating(db, schema);
  try {
    const pending = pendingMigrations(files, applied);
    report("migrations", `${applied.length} applied before, ${pending.length} pending`);
    const parsed = await Promise.all(pending.map(async (file) => ({ file, statements: await splitStatements(file) })));
    if (parsed.length)
      await applyMigrations(db, schema, statementBounds, parsed, (file, ms) =>
        report("migrate", `${file.name} (${ms} ms)`),
      );
    else await db.query("COMMIT");
    return pending.length;
  } catch (error) {
    await db.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

async function dryRun({ db, inputs, files, deployer, roles, newRoles, report }: Session): Promise<boolean> {
  const { schema } = inputs;
  const pending = pendingMigrations(files, await inStep("migrations", () => readHistory(db, schema)));
  // Parsing reports syntax errors and transaction-control statements now rather than at apply time.
  await Promise.all(pending.map(splitStatements));
  for (const file of pending) report("would apply", file.name);
  if (!pending.length) report("migrations", "none pending");

  // A role the real run would create first has no access yet: it would get all of it.
  const existing = roles.filter(({ role }) => !newRoles.includes(role));
  const problems = await inStep("verify", () => findAccessProblems(db, schema, inputs.appRole, existing));
  failOnUnfixable(problems);
  for (const problem of problems) report("access", problem.message);
  if (problems.length || newRoles.length)
    for (const statement of grantStatements(schema, deployer, inputs.appRole, roles)) report("would grant", statement);
  else report("access", "as configured");
  return pending.length > 0 || problems.length > 0;
}

function failOnUnfixable(problems: readonly AccessProblem[]): void {
  const unfixable = problems.filter((p) => !p.fixable).map((p) => p.message);
  if (unfixable.length) throw new StepError("verify", listProblems(unfixable));
}
