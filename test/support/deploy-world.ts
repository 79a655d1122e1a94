/**
 * Everything a real deploy needs, locally: a PostgreSQL server, the workspace emulator in front of it, and a
 * copy of this working tree whose commands (cdktf, npm, terraform) run with the emulator's credentials and a
 * value for every secret variable. The one place the e2e tier and `npm run bench:deploy` start them.
 */
import { secretVariableName } from "../../stacks/config/secret-variable";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { type Emulator, startEmulator } from "./emulator";
import { startPostgres, type TestPostgres } from "./postgres";
import { copyProject, type ProjectCopy } from "./project";

export interface DeployWorld {
  readonly postgres: TestPostgres;
  readonly emulator: Emulator;
  readonly project: ProjectCopy;
  /** Removes the copy and stops the emulator and PostgreSQL (whatever was started). */
  stop(): Promise<void>;
}

/** Starts the world for deploying `environments` (the serving endpoints they bind exist in the emulator). */
export async function startDeployWorld(environments: readonly EnvironmentConfig[]): Promise<DeployWorld> {
  const postgres = await startPostgres();
  let emulator: Emulator | undefined;
  try {
    emulator = await startEmulator(postgres, { servingEndpoints: [...new Set(environments.flatMap((e) => e.servingEndpoints.map((s) => s.name)))] });
    const project = copyProject({
      DATABRICKS_HOST: emulator.url,
      DATABRICKS_TOKEN: emulator.workspaceToken,
      POST_APPLY_INSECURE_NO_TLS: "1",
      POST_APPLY_PG_PORT: String(postgres.port),
      ...Object.fromEntries(environments.flatMap((e) => e.secrets?.keys ?? []).map((key) => [`TF_VAR_${secretVariableName(key)}`, `e2e-secret-${key}`])),
    });
    const started = emulator;
    return {
      postgres,
      emulator,
      project,
      async stop() {
        project.remove();
        try {
          await started.stop();
        } finally {
          await postgres.stop();
        }
      },
    };
  } catch (error) {
    await emulator?.stop().catch(() => {});
    await postgres.stop();
    throw error;
  }
}
