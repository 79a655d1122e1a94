/**
 * Test support for the app (app-src/): a database set up the way a deploy leaves it, and the app's config.
 *
 * The database is prepared by the post-apply runner's own core (tools/post-apply/post-apply.ts, in-process,
 * with a stand-in for the workspace API): as the deployer it creates schema `app`, applies
 * app-src/migrations/*.sql, records them in its history table and grants the app's role its access (and
 * read access to that history, which /ready checks). The
 * app's role itself gets only what the Databricks app `database` resource gives it (LOGIN, CONNECT +
 * CREATE on the database), so the tests run as that role, never as a superuser.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import pg from "pg";
import type { AppConfig } from "../../app-src/src/config";
import type { PostApplyInputs } from "../../tools/lib/post-apply-inputs";
import { postApply } from "../../tools/post-apply/post-apply";
import type { Workspace } from "../../tools/lib/workspace";
import type { TestPostgres } from "../../tools/lib/local/postgres";

export const APP_SRC = resolve(__dirname, "..", "..", "app-src");
export const APP_MIGRATIONS = join(APP_SRC, "migrations");

/** Like a Databricks app service principal: its Postgres role is named after its client id. */
export const APP_CLIENT_ID = "6a5c1f0e-1b7d-4c47-9a51-2f0de4d7b3a9";
export const DEPLOYER = "deployer@example.com";
const DEPLOYER_PASSWORD = "deployer-database-credential";

export interface AppDatabase {
  readonly name: string;
  /** Sets the app role's password, as a new Lakebase token would be accepted. */
  setAppPassword(password: string): Promise<void>;
  /** Runs the post-apply runner again, with the migrations in `migrationsDir`. */
  migrate(migrationsDir: string): Promise<void>;
  /** Runs SQL as the deployer in this database. */
  asDeployer<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

let databases = 0;

/**
 * A fresh database in `server` as a deploy leaves it: migrated from `migrationsDir` (default: the app's;
 * `null`: never migrated) and granted by the post-apply runner. Roles are cluster-wide, so they are created
 * once per server.
 */
export async function createAppDatabase(
  server: TestPostgres,
  options: { migrationsDir?: string | null; appPassword?: string } = {},
): Promise<AppDatabase> {
  const name = `notes_${process.pid}_${++databases}`;
  await server.query(`
    DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${DEPLOYER}') THEN
        CREATE ROLE "${DEPLOYER}" LOGIN PASSWORD '${DEPLOYER_PASSWORD}';
      END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_CLIENT_ID}') THEN
        CREATE ROLE "${APP_CLIENT_ID}" LOGIN;
      END IF;
    END $$`);
  await server.query(`CREATE DATABASE ${name}`);
  // The deployer's CONNECT + CREATE (on Lakebase it is a databricks_superuser member), and what the app's
  // `database` resource (CAN_CONNECT_AND_CREATE) grants the service principal's role.
  await server.query(`GRANT CONNECT, CREATE ON DATABASE ${name} TO "${DEPLOYER}", "${APP_CLIENT_ID}"`);

  const asDeployer = async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => {
    const client = new pg.Client(server.clientConfig({ database: name, user: DEPLOYER, password: DEPLOYER_PASSWORD }));
    await client.connect();
    try {
      return await client.query<R>(sql, params);
    } finally {
      await client.end();
    }
  };

  const migrationsDir = options.migrationsDir === undefined ? APP_MIGRATIONS : options.migrationsDir;
  if (migrationsDir !== null) await runPostApply(server, name, migrationsDir);

  const setAppPassword = async (password: string) => {
    await server.query(`ALTER ROLE "${APP_CLIENT_ID}" PASSWORD ${pg.escapeLiteral(password)}`);
  };
  if (options.appPassword !== undefined) await setAppPassword(options.appPassword);
  return { name, setAppPassword, asDeployer, migrate: (dir) => runPostApply(server, name, dir) };
}

/** The runner's core, as `npm run migrate -- apply` runs it after `terraform apply`, against `database`. */
async function runPostApply(server: TestPostgres, database: string, migrationsDir: string): Promise<void> {
  const inputs: PostApplyInputs = {
    instance: "notes-test",
    database,
    schema: "app",
    appRole: APP_CLIENT_ID,
    appAccess: "readWrite",
    readOnlyRoles: [],
    configFile: "environments/test.yaml",
    migrationsDir,
    instanceTimeoutSeconds: 5,
    lockTimeoutSeconds: 5,
    statementBounds: { lockTimeoutSeconds: 5, timeoutSeconds: 60 },
    dryRun: false,
    connection: { port: server.port, tls: false },
  };
  // Only the three calls the runner makes; the REST side has its own tests (test/unit/post-apply.test.ts).
  const workspace = {
    currentUserName: async () => DEPLOYER,
    waitUntilAvailable: async () => server.host,
    mintDatabaseCredential: async () => DEPLOYER_PASSWORD,
  } as unknown as Workspace;
  await postApply(inputs, workspace, () => {});
}

/** The app's config for `database` in `server`, as the Apps runtime would inject it (no TLS locally). */
export function appConfig(server: TestPostgres, database: string, overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    port: 0,
    workspaceUrl: "http://127.0.0.1:9",
    clientId: APP_CLIENT_ID,
    clientSecret: "test-client-secret",
    database: {
      host: server.host,
      port: server.port,
      name: database,
      user: APP_CLIENT_ID,
      sslMode: "disable",
      applicationName: "notes-app",
    },
    ...overrides,
  };
}

/** Collects the app's JSON log lines. */
export function captureLogs(): { lines: Record<string, unknown>[]; sink: (line: string) => void } {
  const lines: Record<string, unknown>[] = [];
  return { lines, sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) };
}

export async function request(
  baseUrl: string,
  path: string,
  init: { method?: string; email?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.email) headers["X-Forwarded-Email"] = init.email;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(baseUrl + path, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/**
 * A workspace's OAuth token endpoint (`POST /oidc/v1/token`) that issues tokens living `expiresInSeconds`
 * and, like a rotation, makes each new token the app role's only valid password the moment it is issued.
 */
export interface FakeWorkspace {
  readonly url: string;
  /** Tokens issued, in order. */
  readonly issued: string[];
  readonly requests: { authorization?: string; contentType?: string; body: string; path?: string }[];
  /** When set, the token endpoint answers this status and OAuth error instead of a token. */
  failWith?: { status: number; error: string; description: string };
  expiresInSeconds: number;
  close(): Promise<void>;
}

export async function fakeWorkspace(db: AppDatabase, expiresInSeconds: number): Promise<FakeWorkspace> {
  const state: Omit<FakeWorkspace, "url" | "close"> = { issued: [], requests: [], expiresInSeconds };
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    state.requests.push({
      authorization: req.headers.authorization,
      contentType: req.headers["content-type"],
      body,
      path: req.url,
    });
    res.setHeader("Content-Type", "application/json");
    if (req.method !== "POST" || req.url !== "/oidc/v1/token") {
      res.writeHead(404).end("{}");
      return;
    }
    if (state.failWith) {
      const { status, error, description } = state.failWith;
      res.writeHead(status).end(JSON.stringify({ error, error_description: description }));
      return;
    }
    const token = `eyJ-${state.issued.length + 1}-${randomBytes(8).toString("hex")}`;
    await db.setAppPassword(token); // from now on only this token logs in
    state.issued.push(token);
    res.writeHead(200).end(
      JSON.stringify({
        access_token: token,
        token_type: "Bearer",
        expires_in: state.expiresInSeconds,
        scope: "all-apis",
      }),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
