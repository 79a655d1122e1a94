/**
 * The stacks the drift check runs Terraform in: this commit synthesized into a directory of its own (a CI
 * job has no `cdktf.out/`, and a developer's must not be disturbed), with, for local state, the state file a
 * deploy from this repository reads. Removed when the run ends.
 *
 * That directory is a sibling of the repository's output directory (`.drift-XXXXXX/`, git-ignored): the
 * stack writes paths relative to the directory Terraform runs in (app source files, the post-apply working
 * directory), so only a stack directory as deep below the repository as `cdktf.out/stacks/<env>` plans the
 * same `source` paths a deploy wrote into the state.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { oneLine } from "../lib/one-line";
import { runSynth } from "../lib/synthesize";

export interface SynthesizedStack {
  /** The directory Terraform runs in. */
  readonly dir: string;
  /** For a local backend: the state file, as a deploy from this repository reads it. */
  readonly localState?: string;
  /** Where this commit's app deployments take the code from (the stack's `source_code_path` output). */
  readonly sourceCodePath?: string;
}

export interface SynthesizedStacks {
  /** By environment; empty when synthesis failed. */
  readonly stacks: ReadonlyMap<string, SynthesizedStack>;
  /** Why synthesis failed, one line. */
  readonly error?: string;
  remove(): void;
}

interface StackJson {
  terraform?: { backend?: { local?: { path?: string } } & Record<string, unknown> };
  output?: { source_code_path?: { value?: unknown } };
}

export function synthesizeStacks(environments: readonly string[], env: NodeJS.ProcessEnv): SynthesizedStacks {
  const repositoryOut = repositoryOutDir();
  const outDir = mkdtempSync(join(dirname(repositoryOut), ".drift-"));
  const remove = () => rmSync(outDir, { recursive: true, force: true });
  const result = runSynth(REPO_ROOT, outDir, env, environments);
  if (result.status !== 0)
    return {
      stacks: new Map(),
      error: `synthesizing this commit failed: ${oneLine(result.stderr) || oneLine(result.error?.message) || `exit ${result.status}`}`,
      remove,
    };
  const stacks = new Map(
    environments.map((environment) => {
      const stackDir = join(outDir, "stacks", environment);
      const json = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as StackJson;
      const source = json.output?.source_code_path?.value;
      return [
        environment,
        {
          dir: stackDir,
          localState: localState(json, stackDir, outDir, repositoryOut),
          sourceCodePath: typeof source === "string" ? source : undefined,
        },
      ];
    }),
  );
  return { stacks, remove };
}

/**
 * A local backend's state file. Its path is relative to the stack directory; one that lands inside the
 * output directory means state kept in the build output (`cdktf.out/stacks/<env>/terraform.<env>.tfstate`),
 * which for a deploy is the repository's own output directory, not this temporary one.
 */
function localState(json: StackJson, stackDir: string, outDir: string, repositoryOut: string): string | undefined {
  const backend = json.terraform?.backend;
  const remote = backend && Object.keys(backend).some((type) => type !== "local");
  if (remote) return undefined;
  const path = resolve(stackDir, backend?.local?.path ?? "terraform.tfstate");
  const inOutput = relative(outDir, path);
  return inOutput.startsWith("..") || isAbsolute(inOutput) ? path : join(repositoryOut, inOutput);
}

/** The output directory `cdktf deploy` uses: cdktf.json's `output`, else `cdktf.out`. */
function repositoryOutDir(): string {
  const config = join(REPO_ROOT, "cdktf.json");
  const output = existsSync(config)
    ? (JSON.parse(readFileSync(config, "utf8")) as { output?: string }).output
    : undefined;
  return resolve(REPO_ROOT, output ?? "cdktf.out");
}
