import { UserError } from "./user-error";

/**
 * A failure the user can act on, named by the step it happened in. The command-line harness prints
 * `post-apply failed at <step>: <message>` and exits 1, without a stack trace: every message must say what
 * went wrong and where (file, resource, role, privilege), and must never contain a credential.
 */
export class StepError extends UserError {
  constructor(
    override readonly step: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StepError";
  }
}

/** Prints one progress line of a step; never given a credential. */
export type Report = (step: string, detail: string) => void;

/** The message of anything thrown, for wrapping into a StepError. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export { listProblems } from "./list-problems";

/** Runs `work` as `step`: an unexpected error (a dropped connection, say) is reported as a failure of that step. */
export async function inStep<T>(step: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StepError) throw error;
    throw new StepError(step, messageOf(error), { cause: error });
  }
}
