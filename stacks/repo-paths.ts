/**
 * Where the app's code and migrations live in this repository. Kept free of cdktf and provider imports:
 * the post-apply runner reads the same paths at deploy time without loading synth code.
 */
import { join, resolve } from "node:path";

/** The repository's root: synth, the tools and the post-apply steps resolve every path from here. */
export const REPO_ROOT = resolve(__dirname, "..");

export const APP_SOURCE_DIR = join(REPO_ROOT, "app-src");
export const MIGRATIONS_DIR = join(APP_SOURCE_DIR, "migrations");
