/**
 * Running the Terraform CLI in a synthesized stack directory, as the cdktf CLI would: the same binary
 * (`TERRAFORM_BINARY_NAME`, else `terraform` from PATH), the caller's environment (credentials, `TF_VAR_*`),
 * no prompts and no checkpoint call.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** A mistake the user can fix (bad arguments, no Terraform): one line, exit 1. */
export class UsageError extends Error {}

export interface TerraformResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function terraformBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.TERRAFORM_BINARY_NAME || "terraform";
}

/**
 * The environment Terraform runs with: the caller's, with its update check off (offline it only costs a
 * timeout), no interactive input, and automation-style output (no "run terraform apply" hints).
 */
export function terraformEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, CHECKPOINT_DISABLE: env.CHECKPOINT_DISABLE || "1", TF_IN_AUTOMATION: "1", TF_INPUT: "0" };
}

/** Runs `terraform <args>` in `dir`; `onLine` sees each line of its standard output as it comes. Never rejects on an exit code. */
export function terraform(dir: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {}): Promise<TerraformResult> {
  const env = options.env ?? process.env;
  const binary = terraformBinary(env);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...args], { cwd: dir, env: terraformEnvironment(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    createInterface({ input: child.stdout }).on("line", (line) => {
      stdout += `${line}\n`;
      options.onLine?.(line);
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "ENOENT" ? new UsageError(`cannot run Terraform: "${binary}" not found (install Terraform >= 1.5, or set TERRAFORM_BINARY_NAME)`) : error),
    );
    child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), stdout, stderr: signal ? `${stderr}terraform was stopped by ${signal}\n` : stderr }));
  });
}
