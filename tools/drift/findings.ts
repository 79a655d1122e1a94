/**
 * One difference between what the repository says an environment is and what it is. Every finding names
 * the object, what was expected and what was found, how bad it is, and how to resolve it either way.
 */
export type Severity = "high" | "medium" | "low";

/** Most severe first, for ordering. */
export const SEVERITIES: readonly Severity[] = ["high", "medium", "low"];

export type Check = "terraform" | "instance" | "release" | "roles" | "migrations" | "access" | "ownership";

/**
 * Where the difference comes from: `out-of-band`, the environment was changed outside Terraform and the
 * deploy's own steps (by hand, by another tool, by the platform); `unapplied`, this commit has something
 * the environment has not got yet (the next deploy applies it, or refuses to, as the remediation says).
 */
export type FindingClass = "out-of-band" | "unapplied";

export interface Finding {
  readonly check: Check;
  readonly class: FindingClass;
  /** The resource, attribute or database object, e.g. `databricks_app.app_1234 (notes-dev) description` or `table app.notes`. */
  readonly object: string;
  readonly expected: string;
  readonly found: string;
  readonly severity: Severity;
  readonly remediation: string;
}

/** A value in a finding: strings as they are, absent as "(absent)", anything else as JSON, at most 300 characters. */
export function shown(value: unknown): string {
  const text = value === undefined ? "(absent)" : typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} characters)` : text;
}
