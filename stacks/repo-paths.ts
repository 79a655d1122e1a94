/**
 * Where the app's code and migrations live in this repository. Kept free of cdktf and provider imports:
 * the post-apply runner reads the same paths at deploy time without loading synth code.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The repository's root: synth, the tools and the post-apply steps resolve every path from here. It is the
 * nearest directory above this module with a cdktf.json: searched rather than fixed at one level up,
 * because this module also runs bundled into .build/ at other depths (tools/build/run.cjs).
 */
export const REPO_ROOT = findRepoRoot(__dirname);

export const APP_SOURCE_DIR = join(REPO_ROOT, "app-src");
export const MIGRATIONS_DIR = join(APP_SOURCE_DIR, "migrations");

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "cdktf.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no cdktf.json in ${from} or any directory above it`);
  }
}
