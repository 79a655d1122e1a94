/**
 * Which migrations this build of the app needs, and where the post-apply runner records what it applied.
 *
 * The app ships its migrations (`migrations/NNNN_description.sql`); the runner (tools/post-apply/) applies
 * them as the deployer before the new code is deployed and records one row per applied file in
 * MIGRATIONS_TABLE (tools/lib/lakebase/migration-history.ts), in a schema of its own. The app only reads
 * that table, in /ready, which needs USAGE on that schema and SELECT on the table.
 */
import { readdirSync } from "node:fs";

/** The runner's history table: one row per applied file, `name` = the file name, per app schema. */
export const MIGRATIONS_TABLE = {
  schema: "post_apply",
  table: "applied_migrations",
  nameColumn: "name",
  schemaColumn: "schema_name",
} as const;

/** The schema every migration and query of the app uses. */
export const APP_SCHEMA = "app";

/** The runner's naming rule (MIGRATION_NAME in tools/lib/migration-folder.ts), so both count the same files. */
export const MIGRATION_FILE = /^(\d{4})_[A-Za-z0-9][A-Za-z0-9_-]*\.sql$/;

export interface ShippedMigration {
  readonly version: number;
  readonly file: string;
}

/** The migration files in `dir`, by version. Other files (a README) are ignored. */
export function shippedMigrations(dir: string): ShippedMigration[] {
  return readdirSync(dir)
    .flatMap((file) => {
      const match = MIGRATION_FILE.exec(file);
      return match ? [{ version: Number(match[1]), file }] : [];
    })
    .sort((a, b) => a.version - b.version);
}
