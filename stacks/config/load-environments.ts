/**
 * Loads `environments/*.yaml`: each environment file deep-merged over `common.yaml`, validated strictly,
 * then checked across files. Every problem of every file is collected into one ConfigError.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import {
  type Alias,
  Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Pair,
  parseDocument,
  visit,
  type YAMLError,
  type YAMLMap,
} from "yaml";
import { type core, z } from "zod";
import { ConfigError, type ConfigProblem, describe, formatPath, formatProblem } from "./config-error";
import { type EnvironmentConfig, environmentSchema } from "./schema";
import { crossEnvironmentProblems, type LoadedEnvironment } from "./cross-checks";
import { cdktfTokenIn } from "./terraform-literal";
import { REPO_ROOT } from "../repo-paths";

export const COMMON_FILE = "common.yaml";

/** `STACK_ENVIRONMENTS_DIR` when set (monorepos keep configs elsewhere), else `environments/` of this repo. */
export function environmentsDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.STACK_ENVIRONMENTS_DIR ?? join(REPO_ROOT, "environments"));
}

/**
 * A parsed YAML file that can answer "where is field X?". A file that cannot be read, is not UTF-8 or is not
 * valid YAML is a problem, and its content is never quoted in one (it may not be YAML at all: a symbolic
 * link to a .env file must not print its token).
 */
export class YamlSource {
  readonly display: string;
  readonly data: unknown;
  readonly problems: ConfigProblem[] = [];
  private readonly doc: Document;
  private readonly lines = new LineCounter();
  /** Each mapping's entries by key, so that locating N problems costs O(N). */
  private readonly entries = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(readonly path: string) {
    this.display = relative(process.cwd(), path) || path;
    const text = this.read();
    // logLevel "error": yaml's warnings would otherwise go to stderr, quoting the file; they are problems here.
    // uniqueKeys false: yaml checks each key against all before it (quadratic); indexKeys does it in one pass.
    this.doc =
      text === undefined
        ? new Document()
        : parseDocument(text, { lineCounter: this.lines, logLevel: "error", uniqueKeys: false });
    for (const e of [...this.doc.errors, ...this.doc.warnings])
      this.problems.push(this.yamlProblem(e.linePos?.[0], yamlMessage(e)));
    this.indexKeys();
    const data = this.problems.length ? undefined : this.toJS();
    if (data !== undefined && data !== null && (typeof data !== "object" || Array.isArray(data))) {
      this.problems.push({
        file: this.display,
        line: 1,
        column: 1,
        field: "",
        message: `expected a mapping of settings, found ${shape(data)}`,
      });
    }
    this.data = this.problems.length ? undefined : (data ?? {});
  }

  /** The file's text, or undefined after recording why there is none. */
  private read(): string | undefined {
    const found = (what: string) => {
      this.problems.push({ file: this.display, field: "", message: `expected a readable YAML file, found ${what}` });
      return undefined;
    };
    try {
      if (lstatSync(this.path).isSymbolicLink()) {
        let target: string;
        try {
          target = realpathSync(this.path);
        } catch (e) {
          return found(
            (e as NodeJS.ErrnoException).code === "ELOOP" ? "a loop of symbolic links" : "a symbolic link to nothing",
          );
        }
        if (!/\.ya?ml$/.test(target))
          return found(`a symbolic link to a file not named *.yaml (${relative(process.cwd(), target) || target})`);
      }
      const stat = statSync(this.path);
      if (stat.isDirectory()) return found("a directory");
      if (!stat.isFile()) return found("something that is not a regular file");
      return new TextDecoder("utf-8", { fatal: true }).decode(readFileSync(this.path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (e instanceof TypeError) return found("bytes that are not UTF-8 text");
      return found(
        code === "EACCES" || code === "EPERM"
          ? "a file this user may not read"
          : `a file that cannot be read (${code ?? String(e)})`,
      );
    }
  }

  /** The document as plain data; aliases that do not resolve or expand beyond bounds are problems. */
  private toJS(): unknown {
    try {
      return this.doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      if (!(e instanceof ReferenceError)) throw e;
      if (e.message.startsWith("Excessive alias count")) {
        this.problems.push({
          file: this.display,
          field: "",
          message:
            "expected YAML whose aliases expand to a bounded size, found more than 100 alias expansions (an alias bomb?)",
        });
      } else {
        let unresolved: Alias | undefined;
        visit(this.doc, {
          Alias: (_, node) => {
            if (node.resolve(this.doc)) return undefined;
            unresolved = node;
            return visit.BREAK;
          },
        });
        this.problems.push(this.yamlProblem(this.position(unresolved), yamlMessage(e)));
      }
      return undefined;
    }
  }

  /** Indexes every mapping's keys; a key that repeats one before it is a problem (its value would be lost). */
  private indexKeys(): void {
    visit(this.doc, {
      Map: (_, map) => {
        const entries = new Map<string, Pair>();
        for (const pair of map.items) {
          if (!isScalar(pair.key)) continue;
          const key = String(pair.key.value);
          if (!entries.has(key)) entries.set(key, pair);
          else this.problems.push(this.yamlProblem(this.position(pair.key), "Map keys must be unique"));
        }
        this.entries.set(map, entries);
      },
    });
  }

  private position(node: unknown): { line: number; col: number } | undefined {
    const start = rangeStart(node);
    return start === undefined ? undefined : this.lines.linePos(start);
  }

  private yamlProblem(pos: { line: number; col: number } | undefined, message: string): ConfigProblem {
    return {
      file: this.display,
      line: pos?.line,
      column: pos?.col,
      field: "",
      message: `YAML syntax error: ${message}`,
    };
  }

  /** Position of the deepest existing node on `path` (a missing key points at its parent). */
  locate(path: readonly PropertyKey[]): { line: number; column: number } | undefined {
    const { start } = this.walk(path);
    if (start === undefined) return undefined;
    const { line, col } = this.lines.linePos(start);
    return { line, column: col };
  }

  /** True when this file itself sets the value at `path` (not just a parent). */
  has(path: readonly PropertyKey[]): boolean {
    return path.length > 0 && this.walk(path).complete;
  }

  /** Follows `path` as far as the document goes; `start` is where the last node reached begins (a key, for a mapping entry). */
  private walk(path: readonly PropertyKey[]): { start?: number; complete: boolean } {
    let node: unknown = this.doc.contents;
    let start = rangeStart(node);
    for (const key of path) {
      if (isMap(node)) {
        const pair = this.entries.get(node)?.get(String(key));
        if (!pair) return { start, complete: false };
        // Point at the key, where the user typed the name.
        start = rangeStart(pair.key) ?? rangeStart(pair.value) ?? start;
        node = pair.value;
      } else if (isSeq(node) && typeof key === "number" && key < node.items.length) {
        node = node.items[key];
        start = rangeStart(node) ?? start;
      } else {
        return { start, complete: false };
      }
    }
    return { start, complete: true };
  }
}

function rangeStart(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | null | undefined)?.range?.[0];
}

/**
 * yaml's message for an error, without the parts that can quote the file: everything after ": " or "; "
 * (an unresolved alias or tag, an unexpected token) and words that are not plain words (a directive, a
 * tag, an escape sequence, a reserved character).
 */
function yamlMessage(e: YAMLError | ReferenceError): string {
  const first = e.message
    .split("\n")[0]
    .replace(/ at line \d+, column \d+:?$/, "")
    .split(/: |; /)[0];
  const words = first.split(" ").filter((w) => /^[A-Za-z][A-Za-z'-]*[,.()]?$|^\(?[A-Za-z]+$|^['"]quote$/.test(w));
  return words.join(" ") || ("code" in e ? e.code : "invalid YAML");
}

/** What a top-level value is, never what it says: the file may not be a configuration at all. */
function shape(data: unknown): string {
  return Array.isArray(data) ? `a list of ${data.length}` : `a ${typeof data}`;
}

/**
 * Loads every environment in `dir`, or only `only` (in that order) when given.
 * @throws ConfigError listing every problem found; nothing is returned half-valid.
 */
export function loadEnvironments(options: { dir?: string; only?: readonly string[] } = {}): EnvironmentConfig[] {
  const dir = options.dir ?? environmentsDir();
  const names = environmentNames(dir);
  const selected = options.only?.length ? options.only : names;
  const file = relative(process.cwd(), dir) || dir;
  const selectionProblems = selected.flatMap((n, i): ConfigProblem[] => {
    if (!names.includes(n))
      return [{ file, field: "", message: `unknown environment "${n}"; known environments: ${names.join(", ")}` }];
    // Twice would be two stacks of one name; say so rather than let synthesis fail on it.
    return selected.indexOf(n) < i
      ? [{ file, field: "", message: `expected each environment once, found "${n}" named again` }]
      : [];
  });
  if (selectionProblems.length)
    throw new ConfigError([...new Map(selectionProblems.map((p) => [p.message, p])).values()]);

  const commonPath = join(dir, COMMON_FILE);
  const common = readdirSync(dir).includes(COMMON_FILE) ? new YamlSource(commonPath) : undefined;
  const problems: ConfigProblem[] = [...(common?.problems ?? [])];
  const loaded: LoadedEnvironment[] = [];

  // Cross-file checks need every environment, so validate all of them even when only some are selected.
  for (const name of names) {
    const source = new YamlSource(join(dir, `${name}.yaml`));
    append(problems, source.problems);
    if (source.problems.length || (common && common.data === undefined)) continue;
    const merged = deepMerge(common?.data ?? {}, source.data);
    const textProblems = unsafeTextProblems(merged, source, common);
    append(problems, textProblems);
    const result = environmentSchema.safeParse(merged);
    if (!result.success) {
      for (const issue of result.error.issues) append(problems, describeIssue(issue, merged, source, common));
      continue;
    }
    if (textProblems.length) continue;
    loaded.push({
      config: { ...result.data, name, file: source.display },
      locate: (path, message) => at(path, source, common, message),
    });
  }
  append(problems, crossEnvironmentProblems(loaded));
  // A mistake in common.yaml surfaces once per environment; report it once.
  if (problems.length) throw new ConfigError([...new Map(problems.map((p) => [formatProblem(p), p])).values()]);

  const byName = new Map(loaded.map((l) => [l.config.name, l.config]));
  return selected.flatMap((n) => byName.get(n) ?? []);
}

/**
 * Environment names: every `*.yaml` in `dir` except `common.yaml`, sorted. At least one; a file that looks
 * meant as one but would not be read (`*.yml`, `*.YAML`) is an error, not silently skipped.
 */
export function environmentNames(dir: string): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    throw new ConfigError([
      { file: dir, field: "", message: "expected a directory of environment YAML files, found nothing there" },
    ]);
  }
  const problems: ConfigProblem[] = [];
  const names: string[] = [];
  for (const f of files) {
    const file = join(relative(process.cwd(), dir), f);
    if (!f.endsWith(".yaml")) {
      if (/\.ya?ml$/i.test(f))
        problems.push({
          file,
          field: "",
          message: "expected the extension .yaml (only *.yaml files are read), found another spelling",
        });
    } else if (f !== COMMON_FILE) {
      const name = f.slice(0, -".yaml".length);
      if (/^[a-z][a-z0-9-]*$/.test(name)) names.push(name);
      else
        problems.push({
          file,
          field: "",
          message: "expected a file name of lowercase letters, digits and hyphens (it becomes the stack name)",
        });
    }
  }
  if (!names.length && !problems.length) {
    problems.push({
      file: relative(process.cwd(), dir) || dir,
      field: "",
      message: `expected at least one environment file (<environment>.yaml besides ${COMMON_FILE}), found none`,
    });
  }
  if (problems.length) throw new ConfigError(problems);
  return names.sort();
}

/**
 * Objects merge key by key; arrays and scalars in the environment file replace those of common.yaml. Only
 * own keys count, and each is set as data: a `__proto__` key stays a key (reported as unknown), never a prototype.
 */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const merged = new Map(Object.entries(base));
  for (const [k, v] of Object.entries(override))
    merged.set(k, deepMerge(Object.hasOwn(base, k) ? base[k] : undefined, v));
  return Object.fromEntries(merged);
}

/** Appends without spreading: a file can have more problems than a call can take arguments. */
function append(problems: ConfigProblem[], more: readonly ConfigProblem[]): void {
  for (const p of more) problems.push(p);
}

/**
 * Keys and text that must not reach the stack: `__proto__` (JavaScript would take it for the object's
 * prototype) and cdktf's token encodings, which synthesis would replace by whatever they name.
 */
function unsafeTextProblems(merged: unknown, env: YamlSource, common: YamlSource | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const token = (text: string) => {
    const found = cdktfTokenIn(text);
    return found === undefined
      ? undefined
      : `without cdktf's token encoding, found ${JSON.stringify(found)} in ${describe(text)}`;
  };
  const walk = (value: unknown, path: PropertyKey[]) => {
    if (typeof value === "string") {
      const unsafe = token(value);
      if (unsafe) problems.push(at(path, env, common, `expected text ${unsafe}`));
    } else if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walk(item, [...path, i]);
    } else if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value)) {
        const unsafe =
          k === "__proto__"
            ? "unknown key; __proto__ is never a setting or a name"
            : token(k) && `expected a key ${token(k)}`;
        if (unsafe) problems.push(at([...path, k], env, common, unsafe));
        else walk(v, [...path, k]);
      }
    }
  };
  walk(merged, []);
  return problems;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Turns one zod issue into problems located in whichever file set (or should set) the field. */
function describeIssue(
  issue: core.$ZodIssue,
  merged: unknown,
  env: YamlSource,
  common: YamlSource | undefined,
): ConfigProblem[] {
  if (issue.code === "unrecognized_keys") {
    const allowed = allowedKeys(issue.path, merged).join(", ");
    // __proto__ is reported with the unsafe text, once.
    return issue.keys
      .filter((key) => key !== "__proto__")
      .map((key) => at([...issue.path, key], env, common, `unknown key; expected one of: ${allowed}`));
  }
  if (issue.code === "invalid_key") {
    // A record's key broke its rule: say what the key should be, and show the key (not its value).
    const [inner] = issue.issues;
    return [
      at(
        issue.path,
        env,
        common,
        `${inner ? expectation(inner) : "expected a valid key"}, found ${describe(issue.path.at(-1))}`,
      ),
    ];
  }
  const found = valueAt(merged, issue.path);
  return [at(issue.path, env, common, `${expectation(issue)}, found ${describe(found)}`)];
}

function at(
  path: readonly PropertyKey[],
  env: YamlSource,
  common: YamlSource | undefined,
  message: string,
): ConfigProblem {
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
      return issue.origin === "array"
        ? `expected at least ${issue.minimum} item(s)`
        : issue.origin === "string"
          ? `expected at least ${issue.minimum} character(s)`
          : `expected at least ${issue.minimum}`;
    case "too_big":
      return issue.origin === "array"
        ? `expected at most ${issue.maximum} item(s)`
        : issue.origin === "string"
          ? `expected at most ${issue.maximum} character(s)`
          : `expected at most ${issue.maximum}`;
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
function schemaAt(
  path: readonly PropertyKey[],
  merged: unknown,
  options: { keepUnions?: boolean } = {},
): z.ZodType | undefined {
  let data = merged;
  const unwrap = (schema: z.ZodType | undefined): z.ZodType | undefined => {
    if (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional) return unwrap(schema.unwrap() as z.ZodType);
    if (schema instanceof z.ZodDiscriminatedUnion && !options.keepUnions) {
      const tag = valueAt(data, [schema.def.discriminator]);
      return schema.options.find(
        (o) => o instanceof z.ZodObject && (o.shape[schema.def.discriminator] as z.ZodLiteral).values.has(tag as never),
      ) as z.ZodType | undefined;
    }
    return schema;
  };
  let schema = unwrap(environmentSchema);
  for (const key of path) {
    const next: unknown =
      schema instanceof z.ZodObject
        ? schema.shape[String(key)]
        : schema instanceof z.ZodArray
          ? schema.element
          : undefined;
    data = valueAt(data, [key]);
    schema = unwrap(next as z.ZodType | undefined);
  }
  return schema;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined),
    data,
  );
}
