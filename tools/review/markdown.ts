/**
 * The review as GitHub-flavoured Markdown for one pull request comment: per environment a banner for stateful
 * resources destroyed or replaced, counts, the changes, the post-apply work, then attribute diffs and a graph
 * in `<details>`. Kept under GitHub's comment limit by leaving out the least important parts first.
 */
import { type Action, ACTIONS, KNOWN_AFTER_APPLY, type ResourceChange, SENSITIVE } from "./offline-plan";
import type { EnvironmentReport, Report } from "./report";

/** Hidden marker the workflow finds its own comment by. */
export const REVIEW_MARKER = "<!-- databricks-app-stack-review -->";
/** GitHub's limit on a comment body, in characters. */
export const COMMENT_LIMIT = 65_536;

export interface Detail {
  /** Longest attribute value shown, in characters. */
  readonly valueLimit: number;
  readonly attributeDiffs: boolean;
  readonly graphs: boolean;
  /** Most rows of the change table per environment. */
  readonly maxRows: number;
}

/** Each step leaves out more, least important first; counts, banners and post-apply work always stay. */
const STEPS: readonly { readonly detail: Detail; readonly cut?: string }[] = [
  { detail: { valueLimit: 2_000, attributeDiffs: true, graphs: true, maxRows: Infinity } },
  {
    detail: { valueLimit: 100, attributeDiffs: true, graphs: true, maxRows: Infinity },
    cut: "attribute values shortened to 100 characters",
  },
  {
    detail: { valueLimit: 100, attributeDiffs: false, graphs: true, maxRows: Infinity },
    cut: "attribute-level diffs left out",
  },
  {
    detail: { valueLimit: 100, attributeDiffs: false, graphs: false, maxRows: Infinity },
    cut: "resource graphs left out",
  },
  {
    detail: { valueLimit: 100, attributeDiffs: false, graphs: false, maxRows: 20 },
    cut: "change tables shortened to 20 rows per environment (stateful resources first)",
  },
];

export function markdown(report: Report, limit = COMMENT_LIMIT): string {
  return fit((detail, cuts) => render(report, detail, cuts), limit);
}

/** The most detailed rendering that fits in `limit` characters, cut at the end as a last resort. */
export function fit(render: (detail: Detail, cuts: readonly string[]) => string, limit: number): string {
  const cuts: string[] = [];
  let text = "";
  for (const step of STEPS) {
    if (step.cut) cuts.push(step.cut);
    text = render(step.detail, cuts);
    if (text.length <= limit) return text;
  }
  return truncate(text, limit);
}

/**
 * The first whole lines of `text` that fit `limit` with a note saying so: a line cut in two could end inside
 * a `<code>` element, an entity or a table row, and show the rest (the note included) broken. By the time
 * this is needed, the collapsed sections and code blocks are already left out.
 */
function truncate(text: string, limit: number): string {
  const note = `\n\n**Output truncated at ${limit} characters** (run \`npm run review\` locally for all of it).\n`;
  const kept = text.slice(0, Math.max(0, limit - note.length));
  return `${kept.slice(0, Math.max(0, kept.lastIndexOf("\n")))}${note}`;
}

function render(report: Report, detail: Detail, cuts: readonly string[]): string {
  const parts = [
    REVIEW_MARKER,
    `## Infrastructure review: ${code(report.base)} → ${code(report.head)}`,
    "Offline mode: the synthesized configuration of both trees compared, as if the state matched the base. No state or workspace is read, so drift and values known only after apply are not shown.",
  ];
  if (cuts.length) parts.push(cutNote(cuts));
  if (!report.environments.length) parts.push("No environments in either tree.");
  else parts.push(summary(report));
  for (const environment of report.environments) parts.push(section(environment, detail));
  return `${parts.join("\n\n")}\n`;
}

export function cutNote(cuts: readonly string[]): string {
  return `> [!NOTE]\n> Cut to fit GitHub's ${COMMENT_LIMIT}-character comment limit: ${cuts.join("; ")}.`;
}

/** One row per environment, first: where to look. */
function summary(report: Report): string {
  const rows = report.environments.map((env) => [
    code(env.environment),
    ...ACTIONS.map((action) => String(env.counts[action])),
    env.stateful.length ? `**${env.stateful.length}** ⚠️` : "0",
  ]);
  return table(["environment", ...ACTIONS, "stateful destroyed or replaced"], rows);
}

function section(env: EnvironmentReport, detail: Detail): string {
  const parts = [`### ${code(env.environment)}`];
  if (env.suppressions.length) {
    const lines = env.suppressions.map(
      (s) => `- ${code(s.rule)} on ${code(s.path)} (${escapeMarkdown(s.appliesTo)}): ${escapeMarkdown(s.reason)}`,
    );
    parts.push(["**Accepted guardrail findings**", ...lines].join("\n"));
  }
  if (!env.changes.length) return [...parts, "No changes."].join("\n\n");
  parts.push(...statefulBanner(env.stateful), ...changeParts(env, detail, postApply(env)));
  return parts.join("\n\n");
}

/** What a section shows of an environment's changes, in either mode. */
export interface ChangeSection {
  readonly counts: Readonly<Record<Action, number>>;
  /** Stateful resources destroyed or replaced: the banner. */
  readonly stateful: readonly ResourceChange[];
  readonly changes: readonly ResourceChange[];
  /** Mermaid source of the environment's resources and bindings. */
  readonly graph: string;
}

/** The banner naming the stateful resources destroyed or replaced, with why; none when there are none. */
export function statefulBanner(stateful: readonly ResourceChange[]): string[] {
  if (!stateful.length) return [];
  const lines = stateful.map(
    (c) =>
      `> - **${c.action}** ${code(c.address)}${c.label ? ` (${code(c.label)})` : ""}: ${escapeMarkdown(c.reason ?? "")}`,
  );
  return [
    [
      "> [!CAUTION]",
      "> **Stateful resources will be destroyed or replaced** (data, credentials or the app's identity are lost)",
      ...lines,
    ].join("\n"),
  ];
}

/** Counts, the changes (stateful first), `work` (what the apply does beyond Terraform's own), attribute diffs and the graph. */
export function changeParts(env: ChangeSection, detail: Detail, work: string): string[] {
  const parts = [table(ACTIONS, [ACTIONS.map((action) => String(env.counts[action]))])];
  const ordered = [...env.stateful, ...env.changes.filter((c) => !env.stateful.some((s) => s.address === c.address))];
  const rows = ordered
    .slice(0, detail.maxRows)
    .map((c) => [c.action, code(c.address), c.label ? code(c.label) : "", escapeMarkdown(c.reason ?? "")]);
  parts.push(table(["action", "resource", "name", "reason"], rows));
  if (ordered.length > rows.length) parts.push(`_…and ${ordered.length - rows.length} more changes, left out to fit._`);
  parts.push(work);
  const changed = env.changes.filter((c) => (c.action === "update" || c.action === "replace") && c.changes.length);
  if (detail.attributeDiffs && changed.length) {
    const diffs = changed.map(
      (c) =>
        `**${code(c.address)}** (${c.action})\n\n${table(
          ["attribute", "before", "after"],
          c.changes.map((a) => [code(a.path), value(a.before, detail), value(a.after, detail)]),
        )}`,
    );
    parts.push(details(`Attribute changes (${changed.length} resources)`, diffs.join("\n\n")));
  }
  // The graph's labels hold neither line breaks nor backticks (binding-graph.ts), so nothing in it ends the block.
  if (detail.graphs) parts.push(details("Resources and bindings", `\`\`\`mermaid\n${env.graph}\n\`\`\``));
  return parts;
}

function postApply(env: EnvironmentReport): string {
  const work = env.postApply;
  const files = (names: readonly string[]) => (names.length ? names.map(code).join(", ") : "none");
  const lines = [
    `- Post-apply step (migrations, grants): ${work.runs ? "**runs**" : "does not run"}`,
    `- New migrations: ${files(work.newMigrations)}`,
    ...(work.editedMigrations.length
      ? [
          `- **Edited migrations** (the runner refuses to apply a migration edited after it was applied): ${files(work.editedMigrations)}`,
        ]
      : []),
    ...(work.removedMigrations.length
      ? [`- Removed migrations (already applied ones stay applied): ${files(work.removedMigrations)}`]
      : []),
    `- Grants hash: ${work.grantsChanged ? "**changes** (grants are applied again)" : "unchanged"}`,
    `- App source content hash: ${work.appSourceChanged ? "**changes**" : "unchanged"}`,
    `- Release (the app is deployed again): ${work.releaseReasons.length ? `**yes**: ${work.releaseReasons.join("; ")}` : "no"}`,
  ];
  return ["**Post-apply work**", ...lines].join("\n");
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

export function details(summary: string, body: string): string {
  return `<details><summary>${escapeMarkdown(summary)}</summary>\n\n${body}\n\n</details>`;
}

/** An attribute value: absent as —, markers in italics, anything else as code (JSON for non-strings). */
export function value(v: unknown, detail: Detail): string {
  if (v === undefined) return "—";
  if (v === SENSITIVE || v === KNOWN_AFTER_APPLY) return `_${v}_`;
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return code(
    text.length > detail.valueLimit ? `${text.slice(0, detail.valueLimit)}… (${text.length} characters)` : text,
  );
}

/** A value from the configuration, shown literally as inline code that survives table cells (see `escapeMarkdown`). */
export function code(text: string): string {
  return `<code>${escapeMarkdown(text)}</code>`;
}

/**
 * Text shown literally: HTML, a table cell's `|` and every Markdown construct that could run across `</code>`,
 * link, embed or emphasise (backticks, `*`, `~`, `[`, `]`, `\`; GFM's bare links need a scheme's `:`, an email's
 * `@` or `www.`) as character references, line breaks as spaces. Underscores stay: inside a word they are
 * literal, and addresses are full of them.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\r\n\u2028\u2029]/g, " ")
    .replace(/[&<>|`*~[\]\\:@]|w(?=ww\.)/gi, (c) => `&#${c.charCodeAt(0)};`);
}
