import { AssertionError } from "node:assert";
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

/**
 * Errors of the language itself (a property of undefined, an assertion): a bug in this code, never something
 * the user can act on; except where the system caused one (Node's fetch fails with `TypeError: fetch failed`,
 * its cause the connection's error).
 */
const BUGS = [TypeError, ReferenceError, RangeError, SyntaxError, EvalError, URIError, AssertionError];

function isBug(error: unknown): boolean {
  const systemCause = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code !== undefined;
  return BUGS.some((bug) => error instanceof bug) && !systemCause;
}

/**
 * Runs `work` as `step`: an error from outside (a dropped connection, a statement the database refused) is
 * reported as a failure of that step. A bug is thrown as it is, for the harness to print its stack trace.
 */
export async function inStep<T>(step: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StepError || isBug(error)) throw error;
    throw new StepError(step, messageOf(error), { cause: error });
  }
}
