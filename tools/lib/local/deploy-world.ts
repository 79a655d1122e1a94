/**
 * Everything a real deploy needs, locally: the workspace emulator (each Lakebase instance with a PostgreSQL of
 * its own) holding what the environments expect to find, and a copy of this working tree whose commands
 * (cdktf, npm, terraform) run with the emulator's credentials, a value for every secret variable, and every
 * environment's state in one test directory (STACK_TEST_STATE_DIR, production's remote backend included).
 * The one place the e2e tier and `npm run bench:deploy` start them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EnvironmentConfig } from "../../../stacks/config/schema";
import { type Emulator, startEmulator } from "./emulator";
import { copyProject, type ProjectCopy, secretValues, workspaceFor } from "./project";

export interface DeployWorld {
  readonly emulator: Emulator;
  readonly project: ProjectCopy;
  /** Where every environment's state is. */
  readonly stateDir: string;
  /** Removes the copy and the state, and stops the emulator. */
  stop(): Promise<void>;
}

/** Starts the world for deploying `environments`. */
export async function startDeployWorld(environments: readonly EnvironmentConfig[]): Promise<DeployWorld> {
  const emulator = await startEmulator(workspaceFor(environments));
  const stateDir = mkdtempSync(join(tmpdir(), "e2e-state-"));
  let project: ProjectCopy;
  try {
    project = copyProject({ ...emulator.env, ...secretValues(environments), STACK_TEST_STATE_DIR: stateDir });
  } catch (error) {
    // Nothing of a world that could not be made is left running or behind.
    rmSync(stateDir, { recursive: true, force: true });
    await emulator.stop();
    throw error;
  }
  return {
    emulator,
    project,
    stateDir,
    async stop() {
      project.remove();
      rmSync(stateDir, { recursive: true, force: true });
      await emulator.stop();
    },
  };
}
