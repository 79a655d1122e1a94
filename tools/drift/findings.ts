/**
 * One difference between what the repository says an environment is and what it is. Every finding names
 * the object, what was expected and what was found, how bad it is, and how to resolve it either way.
 */
export type Severity = "high" | "medium" | "low";

export type Check = "instance" | "migrations" | "access" | "ownership";

export interface Finding {
  readonly check: Check;
  /** The instance field or database object, e.g. `lakebase.retentionWindowInDays` or `table app.notes`. */
  readonly object: string;
  readonly expected: string;
  readonly found: string;
  readonly severity: Severity;
  readonly remediation: string;
}
