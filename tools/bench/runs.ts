import { parseArgs } from "node:util";
import { UsageError } from "../lib/cli";

/**
 * A benchmark's only argument, `--runs N`: how many times it measures each case (a whole number >= 1),
 * `fallback` when not given. Anything else on the command line is refused as `parseArgs` refuses it.
 * @throws UsageError naming the value when it is not a whole number >= 1
 */
export function parseRuns(argv: string[], fallback: number): number {
  const { values } = parseArgs({ args: argv, options: { runs: { type: "string", default: String(fallback) } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new UsageError(`--runs: expected a whole number >= 1, found "${values.runs}"`);
  return runs;
}
