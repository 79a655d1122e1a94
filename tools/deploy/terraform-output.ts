/**
 * Reading Terraform's human-readable output: what a plan would do, how far an apply is, and the parts worth
 * showing once it is done. Terraform 1.5+ wording, with TF_IN_AUTOMATION set.
 */

/** Lines about reading current state ("Refreshing state...", data sources): progress, not a change. */
export function isRefreshLine(line: string): boolean {
  return /: (Refreshing state\.\.\.|Reading\.\.\.|Read complete after )/.test(line);
}

/** An apply's per-resource completion line ("Creation complete after 1s [id=...]", "Destruction complete ..."). */
export function isCompletionLine(line: string): boolean {
  return /: (Creation|Modifications|Destruction) complete after /.test(line);
}

/** One line for what a plan would do: `3 to add, 1 to change, 0 to destroy`, `no changes`, or `outputs change`. */
export function planSummary(stdout: string): string {
  const plan = /^Plan: (.+)\.$/m.exec(stdout);
  if (plan) return plan[1];
  if (/^No changes\./m.test(stdout)) return "no changes";
  return /^Changes to Outputs:/m.test(stdout) ? "outputs change" : "changes";
}

/** The plan as a reviewer reads it: Terraform's output without the state-reading lines and blank runs. */
export function planText(stdout: string): string {
  return tidy(stdout.split("\n").filter((line) => !isRefreshLine(line)));
}

/** One line for a finished apply: `27 added, 0 changed, 0 destroyed` (or `12 destroyed`). */
export function applySummary(stdout: string): string {
  const done = /^(?:Apply|Destroy) complete! Resources: (.+)\.$/m.exec(stdout);
  return done ? done[1] : "applied";
}

/** What to show after a successful apply: the summary and the stack's outputs (the app's URL, …). */
export function applyText(stdout: string): string {
  const lines = stdout.split("\n");
  const start = lines.findIndex((line) => /^(?:Apply|Destroy) complete! /.test(line));
  return start < 0 ? "" : tidy(lines.slice(start));
}

/** What to show about a failed command: its errors, after the end of its output (where a local-exec says what failed). */
export function failureText(result: { stdout: string; stderr: string }, tail = 40): string {
  const lines = result.stdout.split("\n").filter((line) => !isRefreshLine(line));
  return tidy([...lines.slice(-tail), ...result.stderr.split("\n")]);
}

function tidy(lines: readonly string[]): string {
  return lines
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
