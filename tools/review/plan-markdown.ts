/**
 * A plan-mode review as GitHub-flavoured Markdown for one pull request comment, laid out as the offline one
 * is (summary first; per environment a banner, counts, the changes, the deploy's own work, then details),
 * with what only a real plan knows: Terraform's reasons, changes made outside Terraform, unknown values.
 */
import { STEP_WORK } from "../lib/deploy-steps";
import {
  changeParts,
  code,
  COMMENT_LIMIT,
  cutNote,
  type Detail,
  escapeMarkdown,
  fit,
  REVIEW_MARKER,
  statefulBanner,
  table,
  value,
} from "./markdown";
import { ACTIONS } from "./offline-plan";
import type { OutOfBandChange, PlanEnvironmentReport, PlanReport } from "./plan-report";

export function planMarkdown(report: PlanReport, limit = COMMENT_LIMIT): string {
  return fit((detail, cuts) => render(report, detail, cuts), limit);
}

function render(report: PlanReport, detail: Detail, cuts: readonly string[]): string {
  const parts = [
    REVIEW_MARKER,
    "## Infrastructure review: Terraform plans",
    "Plan mode: each environment's saved `terraform plan` of this change, against its state and workspace. Replacements and their reasons, " +
      "changes made outside Terraform and values known only after apply are Terraform's own.",
  ];
  if (cuts.length) parts.push(cutNote(cuts));
  parts.push(report.environments.length ? summary(report) : "No plans were given.");
  for (const environment of report.environments) parts.push(section(environment, detail));
  return `${parts.join("\n\n")}\n`;
}

function summary(report: PlanReport): string {
  const rows = report.environments.map((env) => [
    code(env.environment),
    ...ACTIONS.map((action) => String(env.counts[action])),
    env.stateful.length ? `**${env.stateful.length}** ⚠️` : "0",
    env.outOfBand.length ? `**${env.outOfBand.length}**` : "0",
  ]);
  return table(["environment", ...ACTIONS, "stateful destroyed or replaced", "changed outside Terraform"], rows);
}

function section(env: PlanEnvironmentReport, detail: Detail): string {
  const parts = [`### ${code(env.environment)}`];
  if (env.errored)
    parts.push(
      `> [!WARNING]\n> **Planning failed part-way** (${code(env.file)}): this plan is incomplete and cannot be applied.`,
    );
  if (env.emptyState && env.changes.length) {
    parts.push(
      "> [!WARNING]\n> **The state holds no resources**: everything is created. Expected for a new environment; otherwise the plan was made without the environment's state.",
    );
  }
  parts.push(...statefulBanner(env.stateful), outOfBand(env.outOfBand, detail));
  if (!env.changes.length) return [...parts, "No changes."].join("\n\n");
  parts.push(...changeParts(env, detail, steps(env)));
  return parts.join("\n\n");
}

/** Changes made outside Terraform since the last apply, each attribute as in the state → as found. */
function outOfBand(changes: readonly OutOfBandChange[], detail: Detail): string {
  if (!changes.length) return "**Changed outside Terraform:** nothing.";
  const rows = changes.flatMap((c) => {
    const resource = `${code(c.address)}${c.label ? ` (${code(c.label)})` : ""}`;
    if (c.kind === "deleted") return [[resource, "—", "exists", "**deleted**"]];
    return c.changes.map((a) => [resource, code(a.path), value(a.before, detail), value(a.after, detail)]);
  });
  return `**Changed outside Terraform** (the plan sets these back, unless the change is accepted into the configuration):\n\n${table(["resource", "attribute", "in state", "found"], rows)}`;
}

/** Whether the post-apply step and the release run, and why. */
function steps(env: PlanEnvironmentReport): string {
  if (!env.steps.length) return "**Post-apply and release work:** none in this plan.";
  const lines = env.steps.map((s) => {
    const what =
      s.step === "release" ? "the app is **redeployed**" : "the runner applies pending migrations and sets the grants";
    return s.runs
      ? `- ${STEP_WORK[s.step]}: **runs**, so ${what}: ${s.reasons.map(escapeMarkdown).join("; ")}`
      : `- ${STEP_WORK[s.step]}: does not run`;
  });
  return ["**Post-apply and release work**", ...lines].join("\n");
}
