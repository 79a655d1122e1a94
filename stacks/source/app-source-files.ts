/**
 * What makes up the deployed app: the files of an app source directory, and this environment's `app.yaml`.
 * Kept free of cdktf and provider imports: synth hashes exactly this set, and the release step uploads
 * exactly this set at apply time (refusing to if it no longer hashes the same), without loading synth code.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isMap, isSeq, parseDocument } from "yaml";
import { compareStrings, contentHash, type FileContent } from "../content-hash";

/** Directories never uploaded, at any depth: tests, dependencies, VCS data, local environments, build output and caches. */
const EXCLUDED_DIRECTORIES = new Set([
  "test",
  "tests",
  "__tests__",
  "node_modules",
  ".git",
  ".venv",
  "venv",
  // Rebuilt by the Apps runtime (npm run build); a local leftover would make synth depend on the machine.
  "dist",
  "__pycache__",
  ".pytest_cache",
  ".mypy_cache",
  ".ruff_cache",
  ".cache",
]);
/** File names never uploaded. */
const EXCLUDED_FILES: readonly RegExp[] = [
  /\.(test|spec)\./, // *.test.*, *.spec.*
  /^\.env(\..*)?$/, // .env, .env.*: local settings, often secrets
  /\.py[co]$/,
  /^\.DS_Store$/,
  /\.tsbuildinfo$/, // caches
];

/** The file the Apps runtime reads the command and environment from. */
export const APP_YAML = "app.yaml";

/**
 * The files of an app source directory that make up the deployed app, as posix paths relative to `dir`,
 * in code-unit order.
 */
export function appSourceFiles(dir: string): string[] {
  if (!existsSync(dir))
    throw new Error(`app source directory ${dir}: expected a directory with the app's code, found nothing there`);
  const walk = (relative: string): string[] =>
    readdirSync(join(dir, relative), { withFileTypes: true }).flatMap((entry) => {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) return EXCLUDED_DIRECTORIES.has(entry.name) ? [] : walk(path);
      return entry.isFile() && !EXCLUDED_FILES.some((p) => p.test(entry.name)) ? [path] : [];
    });
  return walk("").sort(compareStrings);
}

/**
 * The deployed file set of one environment: the source files, with `app.yaml`'s `env` extended by the
 * environment's plain settings (`app.env`). Secrets never go here: they stay `valueFrom` bindings.
 */
export function appSource(dir: string, env: Readonly<Record<string, string>> = {}): FileContent[] {
  return withAppEnv(readAppSource(dir), dir, env);
}

/** The source files of `dir` as they are, before any environment's settings. */
export function readAppSource(dir: string): FileContent[] {
  const files = appSourceFiles(dir).map((path) => ({ path, content: readFileSync(join(dir, path)) }));
  if (files.length === 0) throw new Error(`app source directory ${dir}: expected files to upload, found none`);
  return files;
}

/** `files` (read from `dir` by readAppSource) with `app.yaml`'s `env` extended by `env`; the others as they are. */
export function withAppEnv(
  files: readonly FileContent[],
  dir: string,
  env: Readonly<Record<string, string>>,
): FileContent[] {
  if (Object.keys(env).length === 0) return [...files];
  const appYaml = files.find((f) => f.path === APP_YAML);
  if (!appYaml)
    throw new Error(
      `app source directory ${dir}: expected an ${APP_YAML} to add the environment's settings (app.env) to, found none`,
    );
  return files.map((f) =>
    f === appYaml
      ? { path: f.path, content: Buffer.from(withEnvironment(f.content.toString("utf8"), env, join(dir, APP_YAML))) }
      : f,
  );
}

/** sha256 of the deployed file set (`contentHash`): changes exactly when the deployed code would. */
export function appSourceSha256(dir: string, env: Readonly<Record<string, string>> = {}): string {
  return contentHash(appSource(dir, env));
}

/** The variable names `app.yaml` of `dir` sets in its `env` list (a setting may not set them again). */
export function appYamlEnvNames(dir: string): string[] {
  const file = join(dir, APP_YAML);
  return existsSync(file)
    ? envList(parseAppYaml(readFileSync(file, "utf8"), file)).items.map((item) =>
        isMap(item) ? String(item.get("name")) : "",
      )
    : [];
}

/** `app.yaml` text with `env` entries `{name, value}` appended. */
function withEnvironment(text: string, env: Readonly<Record<string, string>>, file: string): string {
  const doc = parseAppYaml(text, file);
  if (!doc.has("env")) doc.set("env", doc.createNode([]));
  const list = envList(doc);
  for (const [name, value] of Object.entries(env)) list.add(doc.createNode({ name, value }));
  return doc.toString();
}

function parseAppYaml(text: string, file: string) {
  const doc = parseDocument(text);
  if (doc.errors.length || !isMap(doc.contents))
    throw new Error(`${file}: expected a YAML mapping (command, env), found something else`);
  return doc;
}

function envList(doc: ReturnType<typeof parseDocument>) {
  const list = doc.get("env", true) ?? doc.createNode([]);
  if (!isSeq(list))
    throw new Error(`${APP_YAML}: env: expected a list of {name, value | valueFrom}, found something else`);
  return list;
}
