/**
 * GET /ready: the app can serve its API now. Three checks, each with a reason when it fails:
 * - credentials: the last database token refresh succeeded (a failure is reported here, not swallowed);
 * - database: the app role can log in and read the runner's migrations table;
 * - migrations: every migration shipped with this app is applied (so the database is at least at the
 *   highest shipped version; migrations the database has beyond that are a newer build's, and fine).
 */
import type { Database } from "./db.js";
import { errorFields } from "./log.js";
import { APP_SCHEMA, MIGRATIONS_TABLE, type ShippedMigration } from "./migrations.js";
import type { TokenProvider } from "./token.js";

export interface Check {
  readonly ok: boolean;
  readonly detail: string;
}

export interface Readiness {
  readonly ready: boolean;
  /** The failing checks' details, joined; absent when ready. */
  readonly reason?: string;
  readonly checks: { readonly credentials: Check; readonly database: Check; readonly migrations: Check };
}

const TABLE = `${MIGRATIONS_TABLE.schema}.${MIGRATIONS_TABLE.table}`;

export async function checkReadiness(
  db: Database,
  tokens: TokenProvider,
  shipped: readonly ShippedMigration[],
  timeoutMs = 5_000,
): Promise<Readiness> {
  const token = tokens.status();
  const credentials: Check = token.ok
    ? { ok: true, detail: `token valid until ${token.expiresAt}` }
    : token.lastError
      ? { ok: false, detail: `database token refresh failed at ${token.lastError.at}: ${token.lastError.message}` }
      : { ok: false, detail: "no valid database token" };

  let database: Check;
  let migrations: Check;
  const expected = shipped.at(-1)?.file ?? "(none)";
  const { schema, table, nameColumn, schemaColumn } = MIGRATIONS_TABLE;
  try {
    const { rows } = await withTimeout(
      db.query<{ name: string }>(
        `SELECT ${quote(nameColumn)} AS name FROM ${quote(schema)}.${quote(table)} WHERE ${quote(schemaColumn)} = $1`,
        [APP_SCHEMA],
      ),
      timeoutMs,
    );
    database = { ok: true, detail: "reachable" };
    const applied = new Set(rows.map((r) => r.name));
    const latest =
      rows
        .map((r) => r.name)
        .sort()
        .at(-1) ?? "none";
    const pending = shipped.filter((m) => !applied.has(m.file)).map((m) => m.file);
    migrations = pending.length
      ? {
          ok: false,
          detail: `migrations not applied: ${pending.join(", ")} (app expects ${expected}, latest applied: ${latest})`,
        }
      : { ok: true, detail: `at ${expected} (latest applied: ${latest})` };
  } catch (error) {
    const { code, error: message } = errorFields(error);
    if (code === "42P01" || code === "3F000") {
      database = { ok: true, detail: "reachable" };
      migrations = { ok: false, detail: `${TABLE} does not exist: no migrations applied (app expects ${expected})` };
    } else if (code === "42501") {
      database = { ok: true, detail: "reachable" };
      migrations = {
        ok: false,
        detail: `the app role may not read ${TABLE} (needs USAGE on schema ${schema} and SELECT on the table): ${message}`,
      };
    } else {
      database = { ok: false, detail: `database unreachable: ${message}` };
      migrations = { ok: false, detail: "unknown: database unreachable" };
    }
  }

  const checks = { credentials, database, migrations };
  const failing = Object.values(checks).filter((c) => !c.ok);
  // "unknown: database unreachable" only repeats the database reason.
  const reasons = failing.map((c) => c.detail).filter((d) => !d.startsWith("unknown:"));
  return failing.length ? { ready: false, reason: reasons.join("; "), checks } : { ready: true, checks };
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
