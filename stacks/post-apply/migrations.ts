import { contentHash } from "../content-hash";
import { MIGRATIONS_DIR } from "../repo-paths";
import { migrationFiles } from "../../tools/lib/migration-folder";

/**
 * sha256 of the migration files, names and contents (`contentHash`); the hash of nothing when there are none.
 * The files are checked by the same rules the post-apply runner applies them by (tools/lib/migration-folder.ts),
 * so a directory the runner would refuse fails synth instead of a deploy halfway. @throws MigrationFolderError
 */
export function migrationsSha256(dir: string = MIGRATIONS_DIR): string {
  return contentHash(migrationFiles(dir).map((file) => ({ path: file.name, content: file.bytes })));
}
