import { existsSync } from "node:fs";
import { contentHash } from "../content-hash";
import { MIGRATIONS_DIR } from "../repo-paths";
import { type MigrationFile, readMigrationFolder } from "../../tools/lib/migration-folder";

/**
 * The migrations of `dir`, in the order they apply, checked by the same rules the post-apply runner applies
 * them by (tools/lib/migration-folder.ts), so a directory the runner would refuse fails synth instead of a
 * deploy halfway. A missing directory has none. @throws MigrationFolderError
 */
export function migrationFiles(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  return existsSync(dir) ? readMigrationFolder(dir) : [];
}

/** sha256 of the migration files, names and contents (`contentHash`); the hash of nothing when there are none. */
export function migrationsSha256(dir: string = MIGRATIONS_DIR): string {
  return contentHash(migrationFiles(dir).map((file) => ({ path: file.name, content: file.bytes })));
}
