/**
 * What a review leaves on disk (temporary directories, a git worktree) is removed however it ends: when the
 * work is done, on an error, and on SIGINT (Ctrl-C), SIGTERM (a cancelled CI job) or SIGHUP. Programs it runs
 * are stopped first, so none writes into a directory being removed.
 */
import { type ChildProcess, spawn } from "node:child_process";

const pending = new Set<() => void>();
const running = new Set<ChildProcess>();
let interruptedBy: NodeJS.Signals | undefined;

/** Registers `cleanup` to run on an interruption; the function returned runs it now (once) instead. */
export function cleanup(work: () => void): () => void {
  pending.add(work);
  return () => {
    if (pending.delete(work)) work();
  };
}

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the program could not be started. */
  readonly error?: Error;
}

/** Runs a program to its end with its output captured; an interruption stops it. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (error) => {
      running.delete(child);
      resolve({ status: null, stdout, stderr, error });
    });
    child.on("close", (status) => {
      running.delete(child);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The signal that interrupted the review, if one did: its work then fails, and it should report nothing. */
export function interrupted(): NodeJS.Signals | undefined {
  return interruptedBy;
}

const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
/** How long a program gets to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;

/**
 * On the first of SIGINT, SIGTERM or SIGHUP: stop the running programs and wait for them, run every pending
 * cleanup, newest first, say so in one line, then end by the same signal (so a shell or CI sees why).
 * Further signals meanwhile are ignored: the cleanup is bounded by the grace period.
 */
export function cleanUpOnSignals(): void {
  const onSignal = async (signal: NodeJS.Signals) => {
    if (interruptedBy) return;
    interruptedBy = signal;
    await Promise.all([...running].map(stop));
    for (const work of [...pending].reverse()) {
      pending.delete(work);
      try {
        work();
      } catch {
        // Best effort: the next cleanup still runs.
      }
    }
    process.stderr.write(`review: interrupted by ${signal}; its temporary worktree and directories were removed\n`);
    for (const s of SIGNALS) process.removeAllListeners(s);
    process.kill(process.pid, signal);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
