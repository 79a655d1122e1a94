/**
 * The drift check of one environment, read-only: the instance's input-only fields, then (when the instance
 * is AVAILABLE) the database through the post-apply runner's credential path. Terraform-level drift (a
 * `terraform plan` per stack) is not part of it: the provider cannot be had on the machines this was
 * built on.
 */
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { inputsFromEnvironmentConfig } from "../post-apply/inputs";
import { readMigrationFiles } from "../post-apply/migration-files";
import { connectAsDeployer } from "../post-apply/post-apply";
import { messageOf, StepError } from "../post-apply/step-error";
import { Workspace } from "../post-apply/workspace";
import { databaseFindings } from "./database";
import type { Finding } from "./findings";
import { instanceFindings } from "./instance";

export interface EnvironmentResult {
  readonly environment: string;
  readonly findings: readonly Finding[];
  /** What could not be looked at, and why (e.g. the instance is stopped, so its database is not probed). */
  readonly notChecked: readonly string[];
  /** Set when the environment could not be checked; findings then hold what was found before. */
  readonly error?: string;
}

export async function checkEnvironment(config: EnvironmentConfig, env: NodeJS.ProcessEnv): Promise<EnvironmentResult> {
  const environment = config.name;
  const findings: Finding[] = [];
  try {
    const workspace = new Workspace(config.workspace);
    const instance = await workspace.readInstance(config.lakebase.instanceName);
    findings.push(...instanceFindings(config, instance));
    if (instance?.state !== "AVAILABLE") {
      return { environment, findings, notChecked: [`database: instance "${config.lakebase.instanceName}" is ${instance?.state ?? "missing"}, not AVAILABLE`] };
    }
    const appRole = await workspace.appServicePrincipalClientId(config.app.name);
    const inputs = inputsFromEnvironmentConfig(config, appRole, env, true);
    const files = readMigrationFiles(inputs.migrationsDir);
    const { db, deployer } = await connectAsDeployer(inputs, workspace, () => undefined);
    try {
      findings.push(...(await databaseFindings(db, { environment, inputs, files, deployer })));
    } finally {
      await db.end().catch(() => undefined);
    }
    return { environment, findings, notChecked: [] };
  } catch (error) {
    const message = error instanceof StepError ? `${error.step}: ${error.message}` : messageOf(error);
    return { environment, findings, notChecked: [], error: message };
  }
}
