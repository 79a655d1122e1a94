/**
 * The connection pool: the app service principal's role, a freshly minted OAuth token as the password
 * of every new connection, TLS as PGSSLMODE says. Queries go through `Database.query`, which retries once
 * with a new token when a login is refused with an old one.
 */
import pg from "pg";
import type { AppConfig, SslMode } from "./config.js";
import { errorFields, type Logger } from "./log.js";
import type { TokenProvider } from "./token.js";

export type PoolOptions = Pick<
  pg.PoolConfig,
  "max" | "idleTimeoutMillis" | "connectionTimeoutMillis" | "maxLifetimeSeconds"
>;

const INVALID_PASSWORD = "28P01";

export function sslOption(mode: SslMode): pg.PoolConfig["ssl"] {
  // libpq's "require" skips certificate checks; Lakebase serves publicly trusted certificates, so this
  // app verifies them for every mode except "disable" (the same choice Databricks' own Lakebase driver makes).
  return mode === "disable" ? false : { rejectUnauthorized: true };
}

export function createPool(
  config: AppConfig,
  tokens: TokenProvider,
  logger: Logger,
  options: PoolOptions = {},
): pg.Pool {
  const { database } = config;
  const pool = new pg.Pool({
    host: database.host,
    port: database.port,
    database: database.name,
    user: database.user,
    password: () => tokens.get(),
    ssl: sslOption(database.sslMode),
    application_name: database.applicationName,
    max: 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    // Lakebase closes connections after days; recycling sooner also spreads logins over token lifetimes.
    maxLifetimeSeconds: 30 * 60,
    statement_timeout: 15_000,
    ...options,
  });
  // An idle connection that dies (failover, restart) must not crash the process; the pool replaces it.
  pool.on("error", (error) => logger.log("warn", "idle database connection closed", errorFields(error)));
  return pool;
}

export class Database {
  constructor(
    private readonly pool: pg.Pool,
    private readonly tokens: TokenProvider,
    private readonly now: () => number = Date.now,
  ) {}

  async query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    const startedAt = this.now();
    try {
      return await this.pool.query<R>(text, params);
    } catch (error) {
      // The login was refused before the statement ran, so running it again is safe.
      if (
        (error as { code?: unknown }).code !== INVALID_PASSWORD ||
        !(await this.tokens.renewAfterRefusedLogin(startedAt))
      )
        throw error;
      return await this.pool.query<R>(text, params);
    }
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/** Errors that mean "the database cannot be reached or logged into", as opposed to a bad statement. */
export function isUnavailable(error: unknown): boolean {
  const { code, error: message } = errorFields(error);
  if (error instanceof Error && error.name === "TokenError") return true;
  if (code && (/^(08|57P|53)/.test(code) || code === INVALID_PASSWORD || /^E[A-Z]+$/.test(code))) return true;
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i.test(message);
}
