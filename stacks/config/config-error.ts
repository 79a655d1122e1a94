import { UserError } from "../../tools/lib/user-error";

/** One thing wrong with the environment configuration, located as precisely as the YAML allows. */
export interface ConfigProblem {
  /** The file, relative to the working directory. */
  readonly file: string;
  /** 1-based; absent when the problem is about a whole file or a missing key with no parent in the file. */
  readonly line?: number;
  readonly column?: number;
  /** Dotted field path such as `app.secrets[0].key`; empty for whole-file problems. */
  readonly field: string;
  /** What was expected and what was found. */
  readonly message: string;
}

/**
 * A user mistake in the environment configuration (or in other input synth reads, such as the app source's
 * file names). Entry points print `message` and exit 1 without a stack trace; every problem found is listed,
 * not just the first.
 */
export class ConfigError extends UserError {
  /** @param what - what is invalid, for the first line of the message */
  constructor(
    readonly problems: readonly ConfigProblem[],
    what = "environment configuration",
  ) {
    super(
      `invalid ${what} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}:${p.column}`;
  return p.field ? `${where}: ${p.field}: ${p.message}` : `${where}: ${p.message}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join("");
}

export function describe(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === "object") return "a mapping";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}
