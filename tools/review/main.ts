/**
 * `npm run review`: what merging this working tree over the base ref would change in each environment,
 * offline (no credentials, no state); or, in plan mode, the same review rendered from saved Terraform plans,
 * one per environment (see saved-plans.ts), as a CI job that ran `terraform plan -out` with the
 * environment's state and credentials hands them over. How to call it and its exit codes: USAGE below.
 *
 * Interrupted (SIGINT, SIGTERM, SIGHUP), it removes its temporary worktree and directories and ends by that
 * signal.
 */
import { statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { type CommandContext, runCommand, UsageError } from "../lib/cli";
import { secretMasker, secretsOf } from "../lib/secret-masker";
import { cleanUpOnSignals, interrupted } from "./cleanup";
import { mapStrings } from "./map-strings";
import { markdown } from "./markdown";
import { planMarkdown } from "./plan-markdown";
import { type PlanReport, planReview, planSecretValues } from "./plan-report";
import { type Report, review } from "./report";
import { readSavedPlans } from "./saved-plans";
import { ReviewError, synthesize, withBaseTree, workingTreeRoot } from "./trees";

const USAGE = `usage: npm run review [-- --base <ref>] [--format md|json] [--out <file>]
       npm run review -- --plan <dir or file> [--plan …] [--format md|json] [--out <file>]
  What merging this working tree over <ref> (default origin/main) would change in each environment, offline;
  with --plan, the same review of saved Terraform plans (terraform plan -out, or terraform show -json output).
  Exit codes: 0 no changes, 2 changes, 1 a mistake to fix (one line), 70 a bug (stack trace).`;

async function main({ argv, env, mask }: CommandContext): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      base: { type: "string" },
      plan: { type: "string", multiple: true },
      format: { type: "string", default: "md" },
      out: { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.format !== "md" && values.format !== "json")
    throw new UsageError(`--format: expected md or json, found "${values.format}"`);
  // Before minutes of work, not after.
  if (values.out) checkOutputDirectory(values.out);
  if (values.plan) {
    if (values.base)
      throw new UsageError(
        "--base and --plan: expected one of them (a plan already has its base: the state it was made against)",
      );
    return output(await planMode(values.plan, values.format, env), values.out);
  }
  const base = values.base ?? "origin/main";
  const headRoot = workingTreeRoot(process.cwd());
  const head = await synthesize(headRoot, headRoot);
  try {
    const report = await withBaseTree(headRoot, base, async (baseRoot) => {
      const synthesized = await synthesize(baseRoot, headRoot);
      try {
        return review(synthesized, head, { base, head: "working tree" });
      } finally {
        synthesized.dispose();
      }
    });
    const masked = mapStrings(report, mask) as Report;
    // Masked again as text: nothing the rendering adds may carry a secret either.
    const text = mask(values.format === "json" ? `${JSON.stringify(masked, null, 2)}\n` : markdown(masked));
    return output({ text, changed: report.changed }, values.out);
  } finally {
    head.dispose();
  }
}

/** The saved plans' review, with every sensitive variable value the plans carry masked too (they hold them in clear). */
async function planMode(
  paths: string[],
  format: string,
  env: NodeJS.ProcessEnv,
): Promise<{ text: string; changed: boolean }> {
  const plans = await readSavedPlans(paths, REPO_ROOT, env);
  const maskAll = secretMasker([...secretsOf(env), ...planSecretValues(plans)]);
  const report = mapStrings(planReview(plans), maskAll) as PlanReport;
  return {
    text: maskAll(format === "json" ? `${JSON.stringify(report, null, 2)}\n` : planMarkdown(report)),
    changed: report.changed,
  };
}

function output({ text, changed }: { text: string; changed: boolean }, out: string | undefined): number {
  if (out) writeOutput(out, text);
  else process.stdout.write(text);
  return changed ? 2 : 0;
}

function checkOutputDirectory(path: string): void {
  const dir = dirname(resolve(path));
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    throw new ReviewError(`--out ${path}: directory ${dir} does not exist; create it first or write elsewhere`);
  }
  if (!isDirectory) throw new ReviewError(`--out ${path}: ${dir} is not a directory`);
}

function writeOutput(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (error) {
    throw new ReviewError(`--out ${path}: cannot write it: ${(error as Error).message}`);
  }
}

cleanUpOnSignals();
runCommand({
  name: "review",
  usage: USAGE,
  run: async (context) => {
    try {
      return await main(context);
    } catch (error) {
      // Interrupted: the work failed because its programs were stopped; the signal handler reports that and ends the process by its signal.
      if (interrupted()) return 1;
      throw error;
    }
  },
});
