/** GitHub Actions workflows of this repository, read as data, and their `run:` steps run the way GitHub runs them. */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../../stacks/repo-paths";

export interface WorkflowStep {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}

export interface WorkflowJob {
  steps: WorkflowStep[];
  needs?: string | string[];
  if?: string;
  environment?: string;
  concurrency?: { group: string; "cancel-in-progress"?: boolean };
  outputs?: Record<string, string>;
  /** A job that calls a reusable workflow: the workflow, its inputs and secrets (and no steps). */
  uses?: string;
  with?: Record<string, unknown>;
  secrets?: string;
  env?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown>; "fail-fast"?: boolean };
}

export interface Workflow {
  on: Record<string, any>;
  permissions: Record<string, string>;
  env?: Record<string, string>;
  jobs: Record<string, WorkflowJob>;
}

export const WORKFLOWS_DIR = join(REPO_ROOT, ".github", "workflows");

export function readWorkflow(file: string): Workflow {
  return parse(readFileSync(join(WORKFLOWS_DIR, file), "utf8")) as Workflow;
}

/** Runs a step's `run:` script with bash as GitHub's default shell does (`bash --noprofile --norc -eo pipefail`). */
export function runStep(
  step: WorkflowStep,
  options: { env: NodeJS.ProcessEnv; cwd?: string },
): SpawnSyncReturns<Buffer> {
  return spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run!], {
    cwd: options.cwd,
    env: options.env,
  });
}
