/**
 * `npm run review [-- --base <ref>] [--format md|json] [--out <file>]`: what merging this working tree over
 * the base ref (default origin/main) would change in each environment, offline (no credentials, no state).
 *
 * `npm run review -- --plan <dir or file> [--plan …] [--format md|json] [--out <file>]`: plan mode, the same
 * review rendered from saved Terraform plans, one per environment (see saved-plans.ts), as a CI job that ran
 * `terraform plan -out` with the environment's state and credentials hands them over.
 *
 * Exit 0: no changes; 2: changes; 1: error (one line on stderr).
 */
import { rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../../stacks/config/load-environments";
import { markdown } from "./markdown";
import { planMarkdown } from "./plan-markdown";
import { planReview, planSecretValues } from "./plan-report";
import { maskSecrets, review, secretValues } from "./report";
import { readSavedPlans } from "./saved-plans";
import { ReviewError, synthesize, type SynthesizedTree, withBaseTree, workingTreeRoot } from "./trees";

const USAGE = "usage: npm run review [-- --base <ref> | --plan <dir or file> …] [--format md|json] [--out <file>]";

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { base: { type: "string" }, plan: { type: "string", multiple: true }, format: { type: "string", default: "md" }, out: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  if (values.format !== "md" && values.format !== "json") throw new ReviewError(`--format: expected md or json, found "${values.format}"; ${USAGE}`);
  let text: string;
  let changed: boolean;
  if (values.plan) {
    if (values.base) throw new ReviewError(`--base and --plan: expected one of them (a plan already has its base: the state it was made against); ${USAGE}`);
    const plans = await readSavedPlans(values.plan, REPO_ROOT, process.env);
    const secrets = [...secretValues(), ...planSecretValues(plans)];
    const report = maskSecrets(planReview(plans), secrets);
    text = maskSecrets(values.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : planMarkdown(report), secrets);
    changed = report.changed;
  } else {
    const base = values.base ?? "origin/main";
    const headRoot = workingTreeRoot(process.cwd());
    const trees: SynthesizedTree[] = [];
    try {
      trees.push(synthesize(headRoot, headRoot));
      const [head] = trees;
      const report = withBaseTree(headRoot, base, (baseRoot) => {
        const synthesized = synthesize(baseRoot, headRoot);
        trees.push(synthesized);
        return review(synthesized, head, { base, head: "working tree" });
      });
      const masked = maskSecrets(report, secretValues());
      // Masked again as text: nothing the rendering adds may carry a secret either.
      text = maskSecrets(values.format === "json" ? `${JSON.stringify(masked, null, 2)}\n` : markdown(masked), secretValues());
      changed = report.changed;
    } finally {
      for (const tree of trees) rmSync(tree.outDir, { recursive: true, force: true });
    }
  }
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  return changed ? 2 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // The user's mistakes (bad arguments, a missing ref or plan, a tree that does not synthesize) get one line; bugs keep their stack.
    if (!(e instanceof ReviewError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) throw e;
    // A synth error can quote the configuration, and so a secret pasted into it.
    console.error(maskSecrets(`review: ${(e as Error).message}`, secretValues()));
    process.exitCode = 1;
  },
);
