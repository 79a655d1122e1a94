/**
 * Which schema version this build of the app needs, and where the post-apply runner records what it applied.
 *
 * The app ships its migrations (`migrations/NNNN_description.sql`); the runner (tools/post-apply/) applies
 * them as the deployer before the new app code is deployed, and records each applied version in
 * MIGRATIONS_TABLE. The app only reads that table, in /ready.
 */
import { readdirSync } from "node:fs";

/** The runner's bookkeeping table and the column holding a migration's version ("0001" or 1). */
export const MIGRATIONS_TABLE = { schema: "app", table: "schema_migrations", versionColumn: "version" } as const;

/** The schema every migration and query of the app uses. */
export const APP_SCHEMA = "app";

/** The runner's naming rule (tools/post-apply/migration-files.ts), so both count the same files. */
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

/** A version as the runner may store it: 1, "1", "0001" or a file name such as "0001_create_notes.sql". */
export function parseVersion(value: unknown): number | undefined {
  const match = /^\s*(\d+)/.exec(String(value));
  return match ? Number(match[1]) : undefined;
}
