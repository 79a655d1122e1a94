/**
 * Running the Terraform CLI from the tools, asynchronously (several environments at once), never
 * interactively, and never with anything secret on its command line: credentials and secret values reach it
 * through the environment only, as they reach a deploy.
 */
import { spawn } from "node:child_process";
import { resolve as resolvePath } from "node:path";
import { createInterface } from "node:readline";
import { UserError } from "./user-error";

export interface TerraformRun {
  /** Exit code; null when it was killed (timeout). */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The Terraform binary the tools use: `TERRAFORM_BINARY_NAME` (as cdktf reads it), else `terraform` on PATH. */
export function terraformBinary(env: NodeJS.ProcessEnv): string {
  return env.TERRAFORM_BINARY_NAME || "terraform";
}

/** Where Terraform keeps a stack's providers and backend settings (`TF_DATA_DIR`, default `.terraform`). */
export function terraformDataDir(stackDir: string, env: NodeJS.ProcessEnv): string {
  return resolvePath(stackDir, env.TF_DATA_DIR || ".terraform");
}

/** A command that would not start (the binary is missing or not executable): the reason and the way out, one line. */
export class TerraformNotRunnable extends UserError {}

export interface TerraformRunOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Stops it (SIGTERM) after this long; `Infinity` never does (an apply must not be cut short). @default 15 minutes */
  readonly timeoutMs?: number;
  /** Sees each line of its standard output as it comes (progress). @default - nothing does */
  readonly onLine?: (line: string) => void;
}

/** Runs `terraform <args>` in `cwd`; rejects only when it cannot start at all. */
export function runTerraform(args: readonly string[], options: TerraformRunOptions): Promise<TerraformRun> {
  const binary = terraformBinary(options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...args], {
      cwd: options.cwd,
      // GOGC (Go's documented setting; one the user sets wins): Go's collector runs half as often in Terraform and
      // the provider it starts. Both are short-lived and allocate most while loading the provider's schema: a
      // no-op plan took 0.60 s of CPU instead of 0.76 (the provider started by Terraform), for about 15 MB more.
      env: { GOGC: "200", ...options.env, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Not spawn's own `timeout`: its timer outlives a binary that fails to start, keeping the process alive.
    const timeoutMs = options.timeoutMs ?? 15 * 60_000;
    const timer = timeoutMs === Infinity ? undefined : setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const { onLine } = options;
    if (onLine) createInterface({ input: child.stdout }).on("line", onLine);
    child.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason = error.code === "ENOENT" ? "not found" : error.code === "EACCES" ? "not executable" : error.message;
      reject(
        new TerraformNotRunnable(`${binary}: ${reason} (install Terraform 1.5 or later, or set TERRAFORM_BINARY_NAME)`),
      );
    });
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
  });
}

/** A diagnostic from `terraform plan -json`'s stream (one JSON object per line). */
export interface Diagnostic {
  readonly severity: "error" | "warning";
  readonly summary: string;
  readonly detail?: string;
  /** The resource instance it is about, when it is about one. */
  readonly address?: string;
}

/** The error diagnostics in a `-json` UI stream. */
export function errorDiagnostics(stream: string): Diagnostic[] {
  return uiMessages<{ diagnostic?: Diagnostic }>(stream, "diagnostic").flatMap((m) =>
    m.diagnostic?.severity === "error" ? [m.diagnostic] : [],
  );
}

/** Whether `terraform plan -json` counted nothing to add, change, import or destroy (false when it printed no count). */
export function planChangesNothing(stream: string): boolean {
  const [summary] = uiMessages<{ changes?: Record<string, unknown> }>(stream, "change_summary");
  return (
    Boolean(summary?.changes) && Object.values(summary.changes ?? {}).every((n) => typeof n !== "number" || n === 0)
  );
}

/** The messages of one type in a `-json` UI stream (one JSON object per line); lines that are not JSON (a crash's text) are ignored. */
function uiMessages<T>(stream: string, type: string): T[] {
  return stream.split("\n").flatMap((line) => {
    try {
      const message = JSON.parse(line) as { type?: string };
      return message.type === type ? [message as T] : [];
    } catch {
      return [];
    }
  });
}
