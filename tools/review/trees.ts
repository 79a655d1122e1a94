/**
 * The two trees a review compares: this working tree and a base ref checked out as a temporary git worktree,
 * each synthesized by its own `main.ts` into a temporary output directory (both removed however the review
 * ends, see cleanup.ts).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import type { RecordedSuppression, SUPPRESSIONS_KEY } from "../../stacks/guardrails/nag-rule";
import { oneLine } from "../lib/one-line";
import { UserError } from "../lib/user-error";
import { cleanup, run } from "./cleanup";

/** One environment's synthesized Terraform JSON (`cdk.tf.json`), as far as the review reads it. */
export interface StackJson {
  "//"?: { [SUPPRESSIONS_KEY]?: RecordedSuppression[] };
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  variable?: Record<string, { sensitive?: boolean }>;
}

/** A synthesized tree: where its repository is, where it was synthesized to, and its stacks by environment. */
export interface SynthesizedTree {
  readonly root: string;
  readonly outDir: string;
  readonly stacks: Map<string, StackJson>;
  /** Removes the output directory. */
  dispose(): void;
}

/** A failure the user can act on: reported as one line, exit 1. */
export class ReviewError extends UserError {}

function git(cwd: string, args: string[]): string {
  const result = spawnSync("git", args, { cwd, encoding: "utf8" });
  if (result.status !== 0)
    throw new ReviewError(`git ${args.join(" ")}: ${oneLine(result.stderr) || `exit ${result.status}`}`);
  return result.stdout.trim();
}

/** The root of the git working tree containing `cwd`. */
export function workingTreeRoot(cwd: string): string {
  return git(cwd, ["rev-parse", "--show-toplevel"]);
}

/**
 * Runs the tree's `main.ts` with its output in a fresh temporary directory, which `dispose` (or an
 * interruption) removes. `STACK_ENVIRONMENTS_DIR`, when set to a directory inside `headRoot`, points at the
 * same relative directory in this tree.
 */
export async function synthesize(
  root: string,
  headRoot: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SynthesizedTree> {
  const outDir = mkdtempSync(join(tmpdir(), "review-synth-"));
  const dispose = cleanup(() => rmSync(outDir, { recursive: true, force: true }));
  const environments = env.STACK_ENVIRONMENTS_DIR && relative(headRoot, resolve(env.STACK_ENVIRONMENTS_DIR));
  const result = await run(process.execPath, ["--import", "tsx", "main.ts"], {
    cwd: root,
    env: {
      ...env,
      CDKTF_OUTDIR: outDir,
      ...(environments && !environments.startsWith("..") && { STACK_ENVIRONMENTS_DIR: join(root, environments) }),
    },
  });
  if (result.status !== 0) {
    dispose();
    throw new ReviewError(
      `synthesizing ${root} failed: ${oneLine(result.stderr) || oneLine(result.error?.message) || `exit ${result.status}`}`,
    );
  }
  const stacksDir = join(outDir, "stacks");
  const names = existsSync(stacksDir) ? readdirSync(stacksDir) : [];
  const stacks = new Map(
    names.map((name) => [name, JSON.parse(readFileSync(join(stacksDir, name, "cdk.tf.json"), "utf8")) as StackJson]),
  );
  return { root, outDir, stacks, dispose };
}

/**
 * Checks out `ref` as a detached worktree of `headRoot` in a temporary directory, with the head's
 * node_modules linked in, runs `fn` on it and removes the worktree (and its output) whatever happens,
 * an interruption included.
 */
export async function withBaseTree<T>(headRoot: string, ref: string, fn: (root: string) => Promise<T>): Promise<T> {
  if (spawnSync("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { cwd: headRoot }).status !== 0) {
    throw new ReviewError(
      `base ref "${ref}" is not a commit here (fetch it first, e.g. git fetch origin main; or pass --base <ref>)`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "review-base-"));
  const root = join(dir, "tree");
  const remove = cleanup(() => {
    // Twice --force: a worktree interrupted while being added is still locked ("initializing").
    spawnSync("git", ["worktree", "remove", "--force", "--force", root], { cwd: headRoot });
    rmSync(dir, { recursive: true, force: true });
    spawnSync("git", ["worktree", "prune"], { cwd: headRoot });
  });
  try {
    const args = ["worktree", "add", "--detach", "--quiet", root, ref];
    const added = await run("git", args, { cwd: headRoot });
    if (added.status !== 0)
      throw new ReviewError(`git ${args.join(" ")}: ${oneLine(added.stderr) || `exit ${added.status}`}`);
    symlinkSync(join(headRoot, "node_modules"), join(root, "node_modules"), "dir");
    return await fn(root);
  } finally {
    remove();
  }
}
