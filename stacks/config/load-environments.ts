/**
 * Loads `environments/*.yaml`: each environment file deep-merged over `common.yaml`, validated strictly,
 * then checked across files. Every problem of every file is collected into one ConfigError.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { type Document, isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { type core, z } from "zod";
import { ConfigError, type ConfigProblem, describe, formatPath, formatProblem } from "./config-error";
import { type EnvironmentConfig, environmentSchema } from "./schema";
import { crossEnvironmentProblems, type LoadedEnvironment } from "./cross-checks";

/**
 * The repository: the nearest directory above this module with a cdktf.json. Searched rather than fixed at two
 * levels up, because this module also runs bundled from .build/ (tools/build/run.cjs).
 */
export const REPO_ROOT = findRepoRoot(__dirname);
export const COMMON_FILE = "common.yaml";

/** `STACK_ENVIRONMENTS_DIR` when set (monorepos keep configs elsewhere), else `environments/` of this repo. */
export function environmentsDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.STACK_ENVIRONMENTS_DIR ?? join(REPO_ROOT, "environments"));
}

/** An environment's YAML file as users name it in messages: relative to the repository root, posix separators. */
export function environmentFile(name: string): string {
  return relative(REPO_ROOT, join(environmentsDir(), `${name}.yaml`)).split(sep).join("/");
}

/** A parsed YAML file that can answer "where is field X?". */
export class YamlSource {
  readonly display: string;
  readonly data: unknown;
  readonly problems: ConfigProblem[] = [];
  private readonly doc: Document;
  private readonly lines = new LineCounter();

  constructor(readonly path: string) {
    this.display = relative(process.cwd(), path) || path;
    this.doc = parseDocument(readFileSync(path, "utf8"), { lineCounter: this.lines });
    for (const e of this.doc.errors) {
      const [pos] = e.linePos ?? [];
      this.problems.push({ file: this.display, line: pos?.line, column: pos?.col, field: "", message: `YAML syntax error: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}` });
    }
    const data = this.problems.length ? undefined : this.doc.toJS();
    if (data !== undefined && data !== null && (typeof data !== "object" || Array.isArray(data))) {
      this.problems.push({ file: this.display, line: 1, column: 1, field: "", message: `expected a mapping of settings, found ${describe(data)}` });
    }
    this.data = this.problems.length ? undefined : (data ?? {});
  }

  /** Position of the deepest existing node on `path` (a missing key points at its parent). */
  locate(path: readonly PropertyKey[]): { line: number; column: number } | undefined {
    for (let depth = path.length; depth >= 0; depth--) {
      // Point at the key of a mapping entry (where the user typed the name), else at the node itself.
      const parent = depth > 0 ? this.doc.getIn(path.slice(0, depth - 1), true) : undefined;
      const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[depth - 1]) : undefined;
      const node = (pair?.key ?? this.doc.getIn(path.slice(0, depth), true)) as { range?: [number, number, number] } | undefined;
      if (node?.range) {
        const { line, col } = this.lines.linePos(node.range[0]);
        return { line, column: col };
      }
    }
    return undefined;
  }

  /** True when this file itself sets the value at `path` (not just a parent). */
  has(path: readonly PropertyKey[]): boolean {
    return path.length > 0 && this.doc.hasIn(path);
  }
}

/**
 * Loads every environment in `dir`, or only `only` (in that order) when given.
 * @throws ConfigError listing every problem found; nothing is returned half-valid.
 */
export function loadEnvironments(options: { dir?: string; only?: readonly string[] } = {}): EnvironmentConfig[] {
  const dir = options.dir ?? environmentsDir();
  const names = environmentNames(dir);
  const selected = options.only?.length ? options.only : names;
  const unknown = selected.filter((n) => !names.includes(n));
  if (unknown.length) {
    throw new ConfigError(
      unknown.map((n) => ({
        file: relative(process.cwd(), dir) || dir,
        field: "",
        message: `unknown environment "${n}"; known environments: ${names.join(", ") || "(none)"}`,
      })),
    );
  }

  const commonPath = join(dir, COMMON_FILE);
  const common = readdirSync(dir).includes(COMMON_FILE) ? new YamlSource(commonPath) : undefined;
  const problems: ConfigProblem[] = [...(common?.problems ?? [])];
  const loaded: LoadedEnvironment[] = [];

  // Cross-file checks need every environment, so validate all of them even when only some are selected.
  for (const name of names) {
    const source = new YamlSource(join(dir, `${name}.yaml`));
    problems.push(...source.problems);
    if (source.problems.length || (common && common.data === undefined)) continue;
    const merged = deepMerge(common?.data ?? {}, source.data);
    const result = environmentSchema.safeParse(merged);
    if (!result.success) {
      problems.push(...result.error.issues.flatMap((issue) => describeIssue(issue, merged, source, common)));
      continue;
    }
    loaded.push({ config: { ...result.data, name }, locate: (path, message) => at(path, source, common, message) });
  }
  problems.push(...crossEnvironmentProblems(loaded));
  // A mistake in common.yaml surfaces once per environment; report it once.
  if (problems.length) throw new ConfigError([...new Map(problems.map((p) => [formatProblem(p), p])).values()]);

  return selected.map((n) => loaded.find((l) => l.config.name === n)!.config);
}

/** Environment names: every `*.yaml` in `dir` except `common.yaml`, sorted. */
export function environmentNames(dir: string): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    throw new ConfigError([{ file: dir, field: "", message: "expected a directory of environment YAML files, found nothing there" }]);
  }
  const names = files.filter((f) => f.endsWith(".yaml") && f !== COMMON_FILE).map((f) => basename(f, ".yaml")).sort();
  const bad = names.filter((n) => !/^[a-z][a-z0-9-]*$/.test(n));
  if (bad.length) {
    throw new ConfigError(
      bad.map((n) => ({ file: join(relative(process.cwd(), dir), `${n}.yaml`), field: "", message: "expected a file name of lowercase letters, digits and hyphens (it becomes the stack name)" })),
    );
  }
  return names;
}

/** Objects merge key by key; arrays and scalars in the environment file replace those of common.yaml. */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) out[k] = deepMerge(base[k], v);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Turns one zod issue into problems located in whichever file set (or should set) the field. */
function describeIssue(issue: core.$ZodIssue, merged: unknown, env: YamlSource, common: YamlSource | undefined): ConfigProblem[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      return at(path, env, common, `unknown key; expected one of: ${allowedKeys(issue.path, merged).join(", ")}`);
    });
  }
  const found = valueAt(merged, issue.path);
  return [at(issue.path, env, common, `${expectation(issue)}, found ${describe(found)}`)];
}

function at(path: readonly PropertyKey[], env: YamlSource, common: YamlSource | undefined, message: string): ConfigProblem {
  const source = common && !env.has(path) && common.has(path) ? common : env;
  return { file: source.display, ...source.locate(path), field: formatPath(path), message };
}

function expectation(issue: core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected === "int" ? "a whole number" : `a ${issue.expected}`}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(" | ")}`;
    case "invalid_union":
      return "discriminator" in issue && issue.discriminator
        ? `expected one of ${discriminatorValues(issue.path).join(" | ")}`
        : "expected one of the allowed forms";
    case "too_small":
      return issue.origin === "array" ? `expected at least ${issue.minimum} item(s)` : issue.origin === "string" ? `expected at least ${issue.minimum} character(s)` : `expected at least ${issue.minimum}`;
    case "too_big":
      return issue.origin === "array" ? `expected at most ${issue.maximum} item(s)` : issue.origin === "string" ? `expected at most ${issue.maximum} character(s)` : `expected at most ${issue.maximum}`;
    case "invalid_format":
      return issue.message.startsWith("expected") ? issue.message : `expected a valid ${issue.format}`;
    default:
      return issue.message;
  }
}

/** The keys the schema allows for the object at `path` (used to suggest the right spelling). */
function allowedKeys(path: readonly PropertyKey[], merged: unknown): string[] {
  const schema = schemaAt(path, merged);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** The literal values a discriminated union accepts for its tag (path ends at the tag field). */
function discriminatorValues(path: readonly PropertyKey[]): string[] {
  const union = schemaAt(path.slice(0, -1), undefined, { keepUnions: true });
  if (!(union instanceof z.ZodDiscriminatedUnion)) return [];
  return union.options.flatMap((o) => {
    const tag = o instanceof z.ZodObject ? o.shape[String(path.at(-1))] : undefined;
    return tag instanceof z.ZodLiteral ? [...tag.values].map((v) => JSON.stringify(v)) : [];
  });
}

/** Walks the schema along a data path, unwrapping defaults/optionals and picking the matching union member. */
function schemaAt(path: readonly PropertyKey[], merged: unknown, options: { keepUnions?: boolean } = {}): z.ZodType | undefined {
  let data = merged;
  const unwrap = (schema: z.ZodType | undefined): z.ZodType | undefined => {
    if (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional) return unwrap(schema.unwrap() as z.ZodType);
    if (schema instanceof z.ZodDiscriminatedUnion && !options.keepUnions) {
      const tag = valueAt(data, [schema.def.discriminator]);
      return schema.options.find((o) => o instanceof z.ZodObject && (o.shape[schema.def.discriminator] as z.ZodLiteral).values.has(tag as never)) as z.ZodType | undefined;
    }
    return schema;
  };
  let schema = unwrap(environmentSchema);
  for (const key of path) {
    const next: unknown = schema instanceof z.ZodObject ? schema.shape[String(key)] : schema instanceof z.ZodArray ? schema.element : undefined;
    data = valueAt(data, [key]);
    schema = unwrap(next as z.ZodType | undefined);
  }
  return schema;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), data);
}

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "cdktf.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no cdktf.json in ${from} or any directory above it`);
  }
}
