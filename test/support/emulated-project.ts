/**
 * A copy of this repository wired to the workspace emulator and a real PostgreSQL, as a deploying CI job
 * is wired to a workspace: the drift and plan-review e2e tests (and the drift benchmark) deploy it with the
 * real cdktf CLI and provider, change it out of band, and run the tools in it.
 *
 * Every use of the emulator harness (startEmulator, SQL on the instances' PostgreSQL) by those tests is in
 * this file, so a change of the harness is a change here.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { join } from "node:path";
import type pg from "pg";
import { parseDocument } from "yaml";
import { loadEnvironments, REPO_ROOT } from "../../stacks/config/load-environments";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { secretVariableName } from "../../stacks/config/secret-variable";
import { startEmulator, type Emulator } from "./emulator";
import { startPostgres, type TestPostgres } from "./postgres";
import { copyProject, outputOf, type ProjectCopy } from "./project";
import { terraformBinary } from "./terraform";

export interface EmulatedProject {
  readonly project: ProjectCopy;
  readonly emulator: Emulator;
  /** What a deploying job has: workspace credentials (DATABRICKS_*), the secrets' values (TF_VAR_secret_*), test-only connection overrides. */
  readonly env: Readonly<Record<string, string>>;
  /** Values that must never be printed: the workspace token, the database credential, the secrets' values. */
  readonly secrets: readonly string[];
  /** The copy's environments as the copy configures them. */
  environments(): EnvironmentConfig[];
  environment(name: string): EnvironmentConfig;
  /** SQL as the superuser in the environment's database. */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(config: EnvironmentConfig, text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** The environment's local Terraform state file in the copy. */
  stateFile(environment: string): string;
  /** `cdktf deploy <environments>` in the copy; throws with its output unless it succeeds. */
  deploy(...environments: string[]): void;
  /** Sets one field of an environment's YAML in the copy. */
  setYaml(environment: string, path: string[], value: unknown): void;
  /** Runs `node --import tsx <script> <args>` in the copy, with `env` only (plus the tools); never throws. */
  tool(script: string, args: readonly string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  stop(): Promise<void>;
}

export async function startEmulatedProject(): Promise<EmulatedProject> {
  const postgres: TestPostgres = await startPostgres();
  let emulator: Emulator | undefined;
  let project: ProjectCopy | undefined;
  try {
    const shipped = loadEnvironments({ dir: join(REPO_ROOT, "environments") });
    emulator = await startEmulator(postgres, { servingEndpoints: [...new Set(shipped.flatMap((e) => e.servingEndpoints.map((s) => s.name)))] });
    const secretValues = Object.fromEntries(shipped.flatMap((e) => e.secrets?.keys ?? []).map((key) => [`TF_VAR_${secretVariableName(key)}`, `e2e-secret-${key}`]));
    const env = {
      DATABRICKS_HOST: emulator.url,
      DATABRICKS_TOKEN: emulator.workspaceToken,
      POST_APPLY_INSECURE_NO_TLS: "1",
      POST_APPLY_PG_PORT: String(postgres.port),
      ...secretValues,
    };
    const copy = copyProject(env);
    project = copy;
    const environmentsDir = join(copy.dir, "environments");
    const load = () => loadEnvironments({ dir: environmentsDir });
    const setYaml = (environment: string, path: string[], value: unknown) =>
      copy.edit(`environments/${environment}.yaml`, (text) => {
        const doc = parseDocument(text);
        doc.setIn(path, value);
        return doc.toString();
      });
    // Until each Lakebase instance has a PostgreSQL cluster of its own in the emulator, the instances share
    // one, so each environment gets a database of its own.
    for (const config of shipped) setYaml(config.name, ["database", "name"], `${config.database.name}_${config.name.replace(/-/g, "_")}`);

    const running = emulator;
    return {
      project: copy,
      emulator: running,
      env,
      secrets: [running.workspaceToken, running.dbToken, ...Object.values(secretValues)],
      environments: load,
      environment(name) {
        const config = load().find((e) => e.name === name);
        if (!config) throw new Error(`no environment ${name} in the copy`);
        return config;
      },
      sql: (config, text, params) => postgres.query(text, params, config.database.name),
      stateFile: (environment) => join(copy.dir, "cdktf.out", "stacks", environment, `terraform.${environment}.tfstate`),
      deploy(...environments) {
        const result = copy.cdktf(["deploy", ...environments, "--auto-approve", "--skip-provider-lock"]);
        if (result.status !== 0) throw new Error(`cdktf deploy ${environments.join(" ")} failed:\n${outputOf(result)}`);
      },
      setYaml,
      tool: (script, args, extra = env) =>
        spawnSync(process.execPath, ["--import", "tsx", script, ...args], {
          cwd: copy.dir,
          encoding: "utf8",
          env: { PATH: process.env.PATH, HOME: process.env.HOME, TERRAFORM_BINARY_NAME: terraformBinary(), TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE, ...extra },
          maxBuffer: 64 * 1024 * 1024,
          timeout: 5 * 60_000,
        }),
      async stop() {
        copy.remove();
        await running.stop();
        await postgres.stop();
      },
    };
  } catch (error) {
    project?.remove();
    await emulator?.stop().catch(() => undefined);
    await postgres.stop();
    throw error;
  }
}
