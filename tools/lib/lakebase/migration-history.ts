/**
 * Which migrations a schema has had: one row per applied file (name, sha256, time) in
 * `post_apply.applied_migrations`, a schema of the runner's own so the app role (granted everything in the
 * app schema) cannot rewrite it; it may only read it (see access.ts), so the app can tell whether the
 * migrations it needs are applied. Applied files must stay as they were: migrations are
 * forward-only, so a changed, missing or out-of-order file stops the run before anything is applied.
 */
import pg from "pg";
import type { MigrationFile } from "../migration-folder";
import { listProblems, StepError } from "../step-error";

export const HISTORY_SCHEMA = "post_apply";
export const HISTORY_TABLE = `${HISTORY_SCHEMA}.applied_migrations`;

export interface AppliedMigration {
  readonly name: string;
  readonly checksum: string;
  readonly applied_at: Date;
}

function selectApplied(schema: string): string {
  return `SELECT name, checksum, applied_at FROM ${HISTORY_TABLE} WHERE schema_name = ${pg.escapeLiteral(schema)} ORDER BY name`;
}

/**
 * Opens a transaction, creates in it what the migrations may assume (the app schema, owned by the deployer;
 * the history table) and returns the applied migrations: one round trip. The first pending migration runs in this same transaction, so a first deploy whose first
 * migration fails leaves not even the schema behind. Needs the migration lock.
 */
export async function beginMigrating(db: pg.Client, schema: string): Promise<AppliedMigration[]> {
  const results = (await db.query(`
    BEGIN;
    CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)};
    CREATE SCHEMA IF NOT EXISTS ${HISTORY_SCHEMA};
    CREATE TABLE IF NOT EXISTS ${HISTORY_TABLE} (
      schema_name text NOT NULL,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (schema_name, name)
    );
    ${selectApplied(schema)}
  `)) as unknown as pg.QueryResult<AppliedMigration>[];
  return results[results.length - 1].rows;
}

/** The applied migrations without creating anything (for --dry-run): none when the table does not exist yet. */
export async function readHistory(db: pg.Client, schema: string): Promise<AppliedMigration[]> {
  const { rows } = await db.query<{ exists: boolean }>("SELECT to_regclass($1) IS NOT NULL AS exists", [HISTORY_TABLE]);
  return rows[0].exists ? (await db.query<AppliedMigration>(selectApplied(schema))).rows : [];
}

/** Records a migration inside its own transaction, so the row exists exactly when its changes do. */
export async function recordApplied(db: pg.Client, schema: string, file: MigrationFile): Promise<void> {
  await db.query(`INSERT INTO ${HISTORY_TABLE} (schema_name, name, checksum) VALUES ($1, $2, $3)`, [
    schema,
    file.name,
    file.checksum,
  ]);
}

/** How the migration files compare with the history: what the runner would apply, and what stops it. */
export interface HistoryComparison {
  /** Files not applied yet, in order. */
  readonly pending: MigrationFile[];
  /** Applied files whose bytes changed since. */
  readonly changed: { readonly file: MigrationFile; readonly record: AppliedMigration }[];
  /** Applied migrations no longer in the directory. */
  readonly missing: AppliedMigration[];
  /** Pending files numbered before the last applied one. */
  readonly overtaken: MigrationFile[];
}

/** Compares the files with the history without judging; `pendingMigrations` turns the problems into an error. */
export function compareHistory(
  files: readonly MigrationFile[],
  applied: readonly AppliedMigration[],
): HistoryComparison {
  const byName = new Map(files.map((f) => [f.name, f]));
  const appliedNames = new Set(applied.map((a) => a.name));
  const changed: HistoryComparison["changed"] = [];
  const missing: AppliedMigration[] = [];
  for (const record of applied) {
    const file = byName.get(record.name);
    if (!file) missing.push(record);
    else if (file.checksum !== record.checksum) changed.push({ file, record });
  }
  const pending = files.filter((f) => !appliedNames.has(f.name));
  const lastApplied = Math.max(0, ...files.filter((f) => appliedNames.has(f.name)).map((f) => f.number));
  return { pending, changed, missing, overtaken: pending.filter((f) => f.number < lastApplied) };
}

/** The files still to apply, in order. @throws StepError when an applied file changed, vanished or is overtaken. */
export function pendingMigrations(
  files: readonly MigrationFile[],
  applied: readonly AppliedMigration[],
): MigrationFile[] {
  const { pending, changed, missing, overtaken } = compareHistory(files, applied);
  const problems: string[] = [];
  for (const record of applied) {
    const when = record.applied_at.toISOString();
    if (missing.includes(record))
      problems.push(`${record.name} was applied at ${when} but is no longer in the migrations directory; restore it`);
    const file = changed.find((c) => c.record === record)?.file;
    if (file) {
      problems.push(
        `${file.display} was changed after it was applied at ${when} (sha256 then ${record.checksum.slice(0, 12)}…, now ${file.checksum.slice(0, 12)}…); ` +
          "migrations are forward-only: restore the file and put the change in a new migration",
      );
    }
  }
  for (const file of overtaken) {
    problems.push(
      `${file.display} is not applied but a later migration is; give new migrations numbers after the last applied one`,
    );
  }
  if (problems.length) throw new StepError("migrations", `nothing was applied: ${listProblems(problems)}`);
  return pending;
}
