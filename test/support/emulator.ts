/**
 * The local Databricks workspace emulator (test/emulator: the Databricks CLI's maintained test server plus
 * the Lakebase and Apps behaviour we need), started per test against a test PostgreSQL.
 * `npm run tools:bootstrap` builds it and records its path in .tools/env (DATABRICKS_EMULATOR_BIN).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { REPO_ROOT } from "../../stacks/repo-paths";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import type { TestPostgres } from "./postgres";

export interface Emulator {
  readonly url: string;
  /** The only bearer token the emulator accepts. */
  readonly workspaceToken: string;
  /** The deployer's identity (`/Me` userName) and the database credential it is given. */
  readonly userName: string;
  readonly dbToken: string;
  /** Calls the emulated REST API with the workspace token; throws on a non-2xx answer. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

export async function startEmulator(pg: TestPostgres, options: { servingEndpoints?: string[] } = {}): Promise<Emulator> {
  const binary = process.env.DATABRICKS_EMULATOR_BIN;
  if (!binary) throw new Error("DATABRICKS_EMULATOR_BIN is not set: run `npm run tools:bootstrap` and this tier through its npm script");
  const workspaceToken = "e2e-workspace-token";
  const userName = "deployer@example.com";
  const dbToken = "e2e-db-token";
  const adminUrl = `postgres://${pg.superuser}:${pg.superuserPassword}@${pg.host}:${pg.port}/postgres`;
  const args = [
    `-workspace-token=${workspaceToken}`,
    `-user-name=${userName}`,
    `-db-token=${dbToken}`,
    `-pg-host=${pg.host}`,
    `-pg-port=${pg.port}`,
    ...(options.servingEndpoints ?? []).map((e) => `-serving-endpoint=${e}`),
  ];
  // The admin URL carries a password: pass it through the environment, not the command line.
  const child = spawn(binary, args, { env: { ...process.env, EMULATOR_PG_ADMIN_URL: adminUrl }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => line.startsWith("EMULATOR_URL=") && resolve(line.slice("EMULATOR_URL=".length)));
    child.once("exit", (code) => reject(new Error(`emulator exited ${code} before it was ready:\n${stderr}`)));
  });

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${workspaceToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} -> ${response.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  };

  return {
    url,
    workspaceToken,
    userName,
    dbToken,
    api,
    async stop() {
      const unhandled = await api<{ requests?: string[] }>("GET", "/_emulator/unhandled");
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      if (unhandled.requests?.length) throw new Error(`the emulator was called on routes it does not handle: ${unhandled.requests.join(", ")}`);
    },
  };
}

/**
 * What `terraform apply` creates for an environment before the post-apply step runs: the instance, the
 * database (through its catalog) and the app bound to it. Returns the app's service principal (its Postgres role).
 */
export async function deployThroughEmulator(emulator: Emulator, config: EnvironmentConfig): Promise<string> {
  const { lakebase, database, app } = config;
  await emulator.api("POST", "/api/2.0/database/instances", {
    name: lakebase.instanceName,
    capacity: lakebase.capacity,
    node_count: lakebase.nodeCount,
    retention_window_in_days: lakebase.retentionWindowInDays,
    custom_tags: Object.entries(lakebase.tags).map(([key, value]) => ({ key, value })),
  });
  await emulator.api("POST", "/api/2.0/database/catalogs", {
    name: database.catalog,
    database_instance_name: lakebase.instanceName,
    database_name: database.name,
    create_database_if_not_exists: true,
  });
  const created = await emulator.api<{ service_principal_client_id: string }>("POST", "/api/2.0/apps", {
    name: app.name,
    description: app.description,
    resources: [{ name: app.databaseResourceName, database: { instance_name: lakebase.instanceName, database_name: database.name, permission: "CAN_CONNECT_AND_CREATE" } }],
  });
  return created.service_principal_client_id;
}

/**
 * Runs one of the repository's tools (e.g. `tools/post-apply/main.ts`) as a deploy or CI job would: a separate
 * process whose only credentials are the usual Databricks variables, against the emulator and the test
 * PostgreSQL. Fails the test if any credential is printed.
 */
export function runToolAgainst(emulator: Emulator, postgres: TestPostgres, script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync("node", ["--import", "tsx", script, ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    // A run that hangs (e.g. waiting for a lock it should not take) is killed and fails.
    timeout: 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABRICKS_HOST: emulator.url,
      DATABRICKS_TOKEN: emulator.workspaceToken,
      POST_APPLY_INSECURE_NO_TLS: "1",
      POST_APPLY_PG_PORT: String(postgres.port),
      ...env,
    },
  });
  const output = `${result.stdout}\n${result.stderr}`;
  for (const secret of [emulator.workspaceToken, emulator.dbToken]) assert.ok(!output.includes(secret), `a credential was printed:\n${output}`);
  return { status: result.status, stdout: result.stdout, output };
}
