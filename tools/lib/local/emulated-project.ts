/**
 * A copy of this repository wired to the workspace emulator, as a deploying CI job is wired to a workspace:
 * the drift and plan-review e2e tests (and the drift benchmark) deploy it with the real cdktf CLI and
 * provider, change it out of band, and run the tools in it. Every environment keeps its state in one
 * test-only directory (STACK_TEST_STATE_DIR).
 *
 * Every use of the emulator harness by those tests is in this file, so a change of the harness is a change here.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { parseDocument } from "yaml";
import { loadEnvironments } from "../../../stacks/config/load-environments";
import type { EnvironmentConfig } from "../../../stacks/config/schema";
import { REPO_ROOT } from "../../../stacks/repo-paths";
import { startEmulator, type Emulator } from "./emulator";
import { copyProject, outputOf, secretValues, workspaceFor, type ProjectCopy } from "./project";
import { bootstrappedTerraform } from "./toolchain";

export interface EmulatedProject {
  readonly project: ProjectCopy;
  readonly emulator: Emulator;
  /** What a deploying job has: workspace credentials (DATABRICKS_*), the secrets' values (TF_VAR_secret_*), the state directory, test-only connection settings. */
  readonly env: Readonly<Record<string, string>>;
  /** Values that must never be printed: the workspace token, the database credential, the secrets' values. */
  readonly secrets: readonly string[];
  environment(name: string): EnvironmentConfig;
  /** SQL as the superuser of the environment's own instance, in its database. */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
    config: EnvironmentConfig,
    text: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** The environment's Terraform state file. */
  stateFile(environment: string): string;
  /** `cdktf deploy <environments>` in the copy; throws with its output unless it succeeds. */
  deploy(...environments: string[]): void;
  /** Sets one field of an environment's YAML in the copy. */
  setYaml(environment: string, path: string[], value: unknown): void;
  /** Runs `node --import tsx <script> <args>` (a `.cjs` script without tsx) in the copy with `env` (default: the job's) and the tools; never throws. */
  tool(script: string, args: readonly string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  stop(): Promise<void>;
}

/** `identities`: who else the workspace knows (`TYPE:name`), for tests that name them out of band. */
export async function startEmulatedProject(options: { identities?: string[] } = {}): Promise<EmulatedProject> {
  const shipped = loadEnvironments({ dir: join(REPO_ROOT, "environments") });
  const workspace = workspaceFor(shipped);
  const emulator = await startEmulator({
    ...workspace,
    identities: [...(workspace.identities ?? []), ...(options.identities ?? [])],
  });
  const stateDir = mkdtempSync(join(tmpdir(), "e2e-state-"));
  const secrets = secretValues(shipped);
  const env = { ...emulator.env, ...secrets, STACK_TEST_STATE_DIR: stateDir };
  const copy = copyProject(env);
  const load = () => loadEnvironments({ dir: join(copy.dir, "environments") });
  return {
    project: copy,
    emulator,
    env,
    secrets: [emulator.workspaceToken, emulator.dbToken, ...Object.values(secrets)],
    environment(name) {
      const config = load().find((e) => e.name === name);
      if (!config) throw new Error(`no environment ${name} in the copy`);
      return config;
    },
    sql: async (config, text, params = []) =>
      (await emulator.instancePostgres(config.lakebase.instanceName)).query(text, params, config.database.name),
    stateFile: (environment) => join(stateDir, `${environment}.tfstate`),
    deploy(...environments) {
      const result = copy.cdktf(["deploy", ...environments, "--auto-approve", "--skip-provider-lock"]);
      if (result.status !== 0) throw new Error(`cdktf deploy ${environments.join(" ")} failed:\n${outputOf(result)}`);
    },
    setYaml: (environment, path, value) =>
      copy.edit(`environments/${environment}.yaml`, (text) => {
        const doc = parseDocument(text);
        doc.setIn(path, value);
        return doc.toString();
      }),
    tool: (script, args, extra = env) =>
      spawnSync(process.execPath, [...(script.endsWith(".cjs") ? [] : ["--import", "tsx"]), script, ...args], {
        cwd: copy.dir,
        encoding: "utf8",
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          TERRAFORM_BINARY_NAME: bootstrappedTerraform(),
          TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE,
          ...extra,
        },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 5 * 60_000,
      }),
    async stop() {
      copy.remove();
      rmSync(stateDir, { recursive: true, force: true });
      await emulator.stop();
    },
  };
}
