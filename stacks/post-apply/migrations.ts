import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { compareStrings, contentHash } from "../content-hash";
import { MIGRATIONS_DIR } from "../repo-paths";

/**
 * The migration files of `dir`: the `*.sql` files directly in it, by name in code-unit order (the order they
 * apply in). A missing directory has none.
 */
export function migrationFiles(dir: string = MIGRATIONS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".sql"))
    .map((entry) => entry.name)
    .sort(compareStrings);
}

/** sha256 of the migration files, names and contents (`contentHash`); the hash of nothing when there are none. */
export function migrationsSha256(dir: string = MIGRATIONS_DIR): string {
  return contentHash(migrationFiles(dir).map((name) => ({ path: name, content: readFileSync(join(dir, name)) })));
}
