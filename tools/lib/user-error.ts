/**
 * A mistake the person running a tool can fix: bad arguments, configuration, a guardrail violation, a
 * workspace or database that says no with a clear reason. The command-line harness (`cli.ts`) prints its
 * message alone, without a stack trace, and exits 1; anything else thrown is a bug and keeps its stack.
 * So every message must say what is wrong and where (file, field, resource), and never hold a secret value.
 */
export class UserError extends Error {
  /** The step of a multi-step run it happened in, when there is one: `<tool> failed at <step>: <message>`. */
  readonly step?: string;

  constructor(message: string, options?: { step?: string; cause?: unknown }) {
    super(message, options && { cause: options.cause });
    this.step = options?.step;
  }
}
