/**
 * Everything the app reads from its environment, validated once at startup.
 *
 * On Databricks Apps the platform injects DATABRICKS_APP_PORT, DATABRICKS_HOST and the app service
 * principal's DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET, and, for the first database resource,
 * PGHOST / PGPORT / PGDATABASE / PGUSER / PGSSLMODE (no password: the app mints one, see token.ts).
 */
export type SslMode = "disable" | "require" | "verify-ca" | "verify-full";
const SSL_MODES: readonly SslMode[] = ["disable", "require", "verify-ca", "verify-full"];

export interface AppConfig {
  /** Port to listen on (DATABRICKS_APP_PORT; 8000, the Apps default, when unset). */
  readonly port: number;
  /** Workspace URL, always with a scheme and without a trailing slash. */
  readonly workspaceUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly database: {
    readonly host: string;
    readonly port: number;
    readonly name: string;
    /** The Postgres role: the app service principal's client id. */
    readonly user: string;
    readonly sslMode: SslMode;
    /** Shown in pg_stat_activity: PGAPPNAME (the app's name on Databricks Apps), else "notes-app". */
    readonly applicationName: string;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid app configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** @throws ConfigError naming every missing or malformed variable at once. */
export function loadConfig(env: Env): AppConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is not set`);
    return value ?? "";
  };
  const port = (name: string, fallback: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > 65535)
      problems.push(`${name} must be a port number, found "${raw}"`);
    return value;
  };

  const appPort = port("DATABRICKS_APP_PORT", 8000);
  const host = required("DATABRICKS_HOST");
  const clientId = required("DATABRICKS_CLIENT_ID");
  const clientSecret = required("DATABRICKS_CLIENT_SECRET");
  const pgHost = required("PGHOST");
  const pgPort = port("PGPORT", 5432);
  const pgDatabase = required("PGDATABASE");
  // PGUSER is the service principal's role; the client id is the same identity when PGUSER is absent.
  const pgUser = env.PGUSER?.trim() || clientId;
  const sslMode = (env.PGSSLMODE?.trim() || "require") as SslMode;
  if (!SSL_MODES.includes(sslMode))
    problems.push(`PGSSLMODE must be one of ${SSL_MODES.join(", ")}, found "${sslMode}"`);

  let workspaceUrl = "";
  if (host) {
    // Some Databricks environments set a bare host name; the SDKs add https:// in that case too.
    const candidate = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `https://${host}`;
    try {
      const url = new URL(candidate);
      workspaceUrl = `${url.protocol}//${url.host}`;
    } catch {
      problems.push(`DATABRICKS_HOST must be a workspace URL or host name, found "${host}"`);
    }
  }

  if (problems.length) throw new ConfigError(problems);
  return {
    port: appPort,
    workspaceUrl,
    clientId,
    clientSecret,
    database: {
      host: pgHost,
      port: pgPort,
      name: pgDatabase,
      user: pgUser,
      sslMode,
      applicationName: env.PGAPPNAME?.trim() || "notes-app",
    },
  };
}
