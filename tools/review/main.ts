/**
 * `npm run review [-- --base <ref>] [--format md|json] [--out <file>]`: what merging this working tree over
 * the base ref (default origin/main) would change in each environment, offline (no credentials, no state).
 * Exit 0: no changes; 2: changes; 1: error (one line on stderr).
 */
import { rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { markdown } from "./markdown";
import { maskSecrets, review, secretValues } from "./report";
import { ReviewError, synthesize, type SynthesizedTree, withBaseTree, workingTreeRoot } from "./trees";

const USAGE = "usage: npm run review [-- --base <ref>] [--format md|json] [--out <file>]";

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { base: { type: "string", default: "origin/main" }, format: { type: "string", default: "md" }, out: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  if (values.format !== "md" && values.format !== "json") throw new ReviewError(`--format: expected md or json, found "${values.format}"; ${USAGE}`);
  const headRoot = workingTreeRoot(process.cwd());
  const trees: SynthesizedTree[] = [];
  try {
    trees.push(synthesize(headRoot, headRoot));
    const [head] = trees;
    const report = withBaseTree(headRoot, values.base, (baseRoot) => {
      const base = synthesize(baseRoot, headRoot);
      trees.push(base);
      return review(base, head, { base: values.base, head: "working tree" });
    });
    const masked = maskSecrets(report, secretValues());
    // Masked again as text: nothing the rendering adds may carry a secret either.
    const text = maskSecrets(values.format === "json" ? `${JSON.stringify(masked, null, 2)}\n` : markdown(masked), secretValues());
    if (values.out) writeFileSync(values.out, text);
    else process.stdout.write(text);
    return report.changed ? 2 : 0;
  } finally {
    for (const tree of trees) rmSync(tree.outDir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  // The user's mistakes (bad arguments, a missing ref, a tree that does not synthesize) get one line; bugs keep their stack.
  if (!(e instanceof ReviewError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) throw e;
  // A synth error can quote the configuration, and so a secret pasted into it.
  console.error(maskSecrets(`review: ${(e as Error).message}`, secretValues()));
  process.exitCode = 1;
}
