/**
 * The one command-line harness of synth and every tool: `--help`, the exit code, what is printed when the
 * work fails, and the secret masker over all of it.
 *
 * - `--help` or `-h` (before a `--`): the usage on stdout, exit 0, nothing else runs.
 * - The work's own exit code otherwise (0 done or clean, 2 changes or drift where a tool says so).
 * - A {@link UserError} (or bad arguments): `<tool>: <message>` on stderr (a post-apply step's:
 *   `<tool> failed at <step>: <message>`), no stack trace, exit 1. A message may be a documented list
 *   (several configuration problems, one indented line each).
 * - Anything else is a bug: `<tool>: unexpected error (a bug)` and the stack trace on stderr, exit 70
 *   (EX_SOFTWARE), so a script can tell it from a mistake of its user.
 *
 * Every credential and secret value of the environment is masked in all of it, stack traces included.
 */
import { secretMasker, secretsOf } from "./secret-masker";
import { UserError } from "./user-error";

/** Exit code of a user error. */
const EXIT_USER_ERROR = 1;
/** Exit code of a bug: sysexits' EX_SOFTWARE. */
const EXIT_BUG = 70;

/** Bad arguments: printed with a pointer to `--help`. */
export class UsageError extends UserError {}

export interface CommandContext {
  /** The arguments after the program's name. */
  readonly argv: string[];
  readonly env: NodeJS.ProcessEnv;
  /** Masks every credential and secret value of `env` (see secret-masker.ts) in what the tool prints or writes. */
  readonly mask: (text: string) => string;
}

export interface Command {
  /** Starts every error line. */
  readonly name: string;
  /** What `--help` prints: how to call it, its options and exit codes. */
  readonly usage: string;
  /** The work; its result is the exit code. */
  readonly run: (context: CommandContext) => number | Promise<number>;
}

/** Runs `command` as this process's program: with its arguments and environment, setting its exit code. */
export function runCommand(command: Command): void {
  const env = process.env;
  const mask = secretMasker(secretsOf(env));
  const argv = process.argv.slice(2);
  const print = (stream: NodeJS.WriteStream, text: string) => stream.write(`${mask(text)}\n`);
  const helpAt = argv.findIndex((arg) => arg === "--help" || arg === "-h");
  const dashes = argv.indexOf("--");
  if (helpAt >= 0 && (dashes < 0 || helpAt < dashes)) {
    print(process.stdout, command.usage);
    return;
  }
  const failed = (error: unknown) => {
    process.exitCode = exitCodeOf(error);
    print(process.stderr, describe(command.name, error));
  };
  try {
    Promise.resolve(command.run({ argv, env, mask })).then((code) => {
      process.exitCode = code;
    }, failed);
  } catch (error) {
    failed(error);
  }
}

function exitCodeOf(error: unknown): number {
  return isUsageMistake(error) || error instanceof UserError ? EXIT_USER_ERROR : EXIT_BUG;
}

/** What to print for `error` thrown by the tool `name`. */
function describe(name: string, error: unknown): string {
  if (isUsageMistake(error)) return `${name}: ${error.message} (--help for usage)`;
  if (error instanceof UserError) return `${name}${error.step ? ` failed at ${error.step}` : ""}: ${error.message}`;
  return `${name}: unexpected error (a bug; please report it with this output)\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
}

/** A {@link UsageError}, or an argument `util.parseArgs` refused (an unknown option, a missing value). */
function isUsageMistake(error: unknown): error is Error {
  return (
    error instanceof UsageError ||
    (error instanceof TypeError && String((error as NodeJS.ErrnoException).code).startsWith("ERR_PARSE_ARGS"))
  );
}
