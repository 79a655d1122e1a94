/**
 * The drift check of one environment, read-only, two halves at once: Terraform (a refreshing plan of this
 * commit's stack) and what Terraform cannot see (the instance's input-only fields, the release, and — when
 * the instance is AVAILABLE — the database through the post-apply runner's credential path). Access and
 * role findings while this commit changes the grants, and release findings while the plan releases the app
 * again, are unapplied (the next deploy sets them right) rather than out-of-band.
 */
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { connectAsDeployer } from "../lib/lakebase/session";
import { readMigrationFiles } from "../lib/migration-folder";
import { inputsFromEnvironmentConfig } from "../lib/post-apply-inputs";
import { messageOf } from "../lib/step-error";
import { UserError } from "../lib/user-error";
import { Workspace } from "../lib/workspace";
import { databaseFindings } from "./database";
import { type Finding, SEVERITIES } from "./findings";
import { instanceFindings } from "./instance";
import { releaseFindings } from "./release";
import type { SynthesizedStack } from "./stacks";
import { checkTerraform, type TerraformResult } from "./terraform-check";

export interface EnvironmentResult {
  readonly environment: string;
  /** Most severe first. */
  readonly findings: readonly Finding[];
  /** What could not be looked at, and why (e.g. the instance is stopped, so its database is not probed). */
  readonly notChecked: readonly string[];
  /** Set when the environment could not be checked (what was missing); findings then hold what was found. */
  readonly error?: string;
}

/** What the API half found, or why it stopped. */
interface ApiResult {
  readonly findings: Finding[];
  readonly notChecked: string[];
  readonly error?: string;
}

export async function checkEnvironment(
  config: EnvironmentConfig,
  stack: SynthesizedStack | undefined,
  synthError: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<EnvironmentResult> {
  const terraform: Promise<TerraformResult | { error: string }> = stack
    ? checkTerraform(config.name, stack, env)
    : Promise.resolve({ error: `terraform: ${synthError}` });
  // An app deleted out of band leaves its role in the database: its access is checked as the state knows it.
  const stateAppRole = async () => {
    const result = await terraform;
    return "stateAppRole" in result ? result.stateAppRole : undefined;
  };
  const [plan, api] = await Promise.all([terraform, checkApi(config, stack?.sourceCodePath, stateAppRole, env)]);
  const planned = "findings" in plan ? plan : undefined;
  const apiFindings = api.findings
    // The app's deletion is Terraform's finding when its plan stopped at it (with the way out of provider 1.99's bug).
    .filter(
      (f) =>
        !(
          f.check === "release" &&
          f.found.startsWith("not found") &&
          planned?.unreadable.some((a) => a.startsWith("databricks_app."))
        ),
    )
    .map(
      (f): Finding =>
        f.class === "out-of-band" && pendingFix(f, planned)
          ? { ...f, class: "unapplied", remediation: `the next deploy fixes it: ${f.remediation}` }
          : f,
    );
  const findings = [...(planned?.findings ?? []), ...apiFindings].sort(
    (a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity),
  );
  const errors = [plan.error, api.error].filter((e): e is string => Boolean(e));
  return {
    environment: config.name,
    findings,
    notChecked: [...(planned?.notChecked ?? []), ...api.notChecked],
    ...(errors.length && { error: errors.join("; ") }),
  };
}

/** Whether the planned deploy changes what this finding is about: the grants (post-apply step), the release. */
function pendingFix(finding: Finding, plan: TerraformResult | undefined): boolean {
  if (finding.check === "access" || finding.check === "roles") return Boolean(plan?.grantsPending);
  if (finding.check === "release") return Boolean(plan?.releasePending);
  return false;
}

async function checkApi(
  config: EnvironmentConfig,
  sourceCodePath: string | undefined,
  stateAppRole: () => Promise<string | undefined>,
  env: NodeJS.ProcessEnv,
): Promise<ApiResult> {
  const findings: Finding[] = [];
  const notChecked: string[] = [];
  try {
    const workspace = new Workspace(config.workspace);
    const [instance, app] = await Promise.all([
      workspace.readInstance(config.lakebase.instanceName),
      workspace.findApp(config.app.name),
    ]);
    findings.push(...instanceFindings(config, instance));
    if (sourceCodePath) findings.push(...releaseFindings(config.name, config.app.name, app, sourceCodePath));
    else notChecked.push("release: this commit's source code path is unknown (it did not synthesize)");
    if (instance?.state !== "AVAILABLE") {
      notChecked.push(
        `database: instance "${config.lakebase.instanceName}" is ${instance?.state ?? "missing"}, not AVAILABLE`,
      );
      return { findings, notChecked };
    }
    const appRole = app?.service_principal_client_id ?? (await stateAppRole());
    if (!appRole) {
      notChecked.push(
        `database: app "${config.app.name}" ${app ? "has no service principal" : "is missing"}, so the access it should have cannot be checked`,
      );
      return { findings, notChecked };
    }
    const inputs = inputsFromEnvironmentConfig(config, appRole, env, true);
    const files = readMigrationFiles(inputs.migrationsDir);
    const { db, deployer } = await connectAsDeployer(inputs, workspace, () => undefined);
    try {
      findings.push(...(await databaseFindings(db, { environment: config.name, inputs, files, deployer })));
    } finally {
      await db.end().catch(() => undefined);
    }
    return { findings, notChecked };
  } catch (error) {
    const message = error instanceof UserError && error.step ? `${error.step}: ${error.message}` : messageOf(error);
    return { findings, notChecked, error: message };
  }
}
