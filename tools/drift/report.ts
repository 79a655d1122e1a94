/**
 * The combined drift report of one run, as JSON (for machines) and Markdown (for people). The entry point
 * masks every secret the process was given (tools/lib/secret-masker.ts), however it got into a message.
 */
import type { EnvironmentResult } from "./check-environment";
import type { Finding } from "./findings";

export interface DriftReport {
  /** `git rev-parse HEAD`: the repository state the environments were compared with. */
  readonly commit: string;
  readonly generatedAt: string;
  readonly environments: readonly EnvironmentResult[];
}

/** 0 clean, 2 drift found, 1 when any environment could not be checked. */
export function exitCode(report: DriftReport): number {
  if (report.environments.some((e) => e.error)) return 1;
  return report.environments.some((e) => e.findings.length) ? 2 : 0;
}

export function renderJson(report: DriftReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

export function renderMarkdown(report: DriftReport): string {
  const lines = [
    "# Drift report",
    "",
    `- Commit compared: \`${report.commit}\``,
    `- Generated: ${report.generatedAt}`,
    "- Checked: Terraform (a refreshing plan: out-of-band changes, and this commit's changes not yet deployed), " +
      "the Lakebase instance's input-only fields, the release (app RUNNING its code), the database (migrations, roles, access, ownership)",
    "",
  ];
  for (const result of report.environments) {
    lines.push(`## ${result.environment}: ${status(result)}`, "");
    if (result.error) lines.push(`Could not be checked: ${result.error}`, "");
    for (const reason of result.notChecked) lines.push(`Not checked: ${reason}`, "");
    if (result.findings.length) {
      lines.push(
        "| severity | class | check | object | expected | found | remediation |",
        "|---|---|---|---|---|---|---|",
      );
      for (const f of result.findings)
        lines.push(
          `| ${[f.severity, f.class, f.check, f.object, f.expected, f.found, f.remediation].map(cell).join(" | ")} |`,
        );
      lines.push("");
    }
  }
  return lines.join("\n");
}

function status({ error, findings }: EnvironmentResult): string {
  const count = `${findings.length} finding${findings.length === 1 ? "" : "s"}`;
  if (error) return `not checked${findings.length ? ` (${count} before it stopped)` : ""}`;
  return findings.length ? `drift (${count})` : "clean";
}

function cell(text: Finding[keyof Finding]): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}
