/**
 * The deployer's PostgreSQL session: TLS required and the server certificate verified against the system
 * CAs (what node-postgres and Databricks' own AppKit do for `sslmode=require`), unless the TEST-ONLY
 * override turned TLS off. Connection failures become one-line StepErrors naming host, port and database.
 */
import pg from "pg";
import type { ConnectionOverrides } from "../lib/post-apply-inputs";
import { messageOf, StepError } from "./step-error";

export interface DatabaseTarget {
  readonly host: string;
  readonly database: string;
  readonly user: string;
  /** The database credential (an OAuth token); only ever handed to the driver. */
  readonly password: string;
  readonly connection: ConnectionOverrides;
}

/** Shown in pg_stat_activity, so a runner holding the migration lock can be recognised. */
const APPLICATION_NAME = "databricks-app-stack post-apply";

const CONNECT_TIMEOUT_MS = 30_000;

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "ECONNRESET",
]);

export async function connect(target: DatabaseTarget): Promise<pg.Client> {
  const { host, database, user, password, connection } = target;
  const client = new pg.Client({
    host,
    port: connection.port,
    database,
    user,
    password,
    // node-postgres sends the host name for SNI and checks the certificate against it.
    ssl: connection.tls ? { rejectUnauthorized: true } : false,
    application_name: APPLICATION_NAME,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // A dropped connection is reported by the query that needed it; without a listener it would crash the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    throw new StepError("connect", describeConnectFailure(error, target), { cause: error });
  }
}

function describeConnectFailure(error: unknown, { host, database, user, connection }: DatabaseTarget): string {
  const where = `PostgreSQL at ${host}:${connection.port} (database "${database}")`;
  const { code } = error as { code?: string };
  const message = messageOf(error);
  if ((code && UNREACHABLE.has(code)) || /timeout/i.test(message)) return `cannot reach ${where}: ${message}`;
  if (code === "28P01" || code === "28000")
    return `${where} rejected the login of role "${user}" with the database credential: ${message} (SQLSTATE ${code})`;
  if (code === "3D000")
    return `database "${database}" does not exist on the instance (the database catalog registration creates it)`;
  if (/does not support SSL/i.test(message)) return `${where} does not offer TLS, which is required`;
  return `could not connect to ${where}: ${message}`;
}
