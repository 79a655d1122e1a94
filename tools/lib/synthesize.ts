/**
 * Synthesizing a tree's stacks the way `npm run synth` does (its own `main.ts`, precompiled, in a child
 * process) into an output directory of the caller's choosing, so a tool never disturbs the tree's
 * `cdktf.out/`, where a developer's plans are.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";

/** Runs `root`'s main.ts for `environments` (all when empty) with its output in `outDir`. */
export function runSynth(
  root: string,
  outDir: string,
  env: NodeJS.ProcessEnv,
  environments: readonly string[] = [],
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ["tools/build/run.cjs", "main.ts", ...environments], {
    cwd: root,
    env: { ...env, CDKTF_OUTDIR: outDir },
    encoding: "utf8",
  });
}
