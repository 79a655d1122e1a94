/**
 * The runner's migration files: the migrations directory as tools/lib/migration-folder.ts defines it (the
 * same rules synth hashes it by), its problems reported as the runner's `migrations` step.
 */
import { type MigrationFile, MigrationFolderError, readMigrationFolder } from "../lib/migration-folder";
import { StepError } from "./step-error";

export type { MigrationFile };

/** Reads and checks every migration in `dir`, in order. @throws StepError listing every problem. */
export function readMigrationFiles(dir: string): MigrationFile[] {
  try {
    return readMigrationFolder(dir);
  } catch (error) {
    if (error instanceof MigrationFolderError) throw new StepError("migrations", error.message);
    throw error;
  }
}
