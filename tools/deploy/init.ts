/**
 * `terraform init` only when something it depends on changed. What init reads and writes: the stack's
 * `terraform` block (required providers, backend), the CLI configuration (where providers are installed
 * from), the dependency lock file it writes, the Terraform binary, and its data directory. A fingerprint of
 * those is kept in the data directory after a successful init; when they are all unchanged, init would do
 * nothing, and it is skipped. Deleting `.terraform` (or the lock file) therefore always brings init back.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { runTerraform, terraformBinary, terraformDataDir, type TerraformRun } from "../lib/terraform-cli";

const FINGERPRINT_FILE = "databricks-app-stack.init.json";

export function initFingerprint(stackDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const stack = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as { terraform?: unknown };
  const binary = onPath(terraformBinary(env), env);
  const binaryStat = statSync(binary, { throwIfNoEntry: false });
  const facts = {
    terraform: stack.terraform ?? null,
    lock: contentOf(join(stackDir, ".terraform.lock.hcl")),
    cliConfig: env.TF_CLI_CONFIG_FILE
      ? { path: resolve(env.TF_CLI_CONFIG_FILE), content: contentOf(env.TF_CLI_CONFIG_FILE) }
      : null,
    // Another Terraform (an upgrade) may read the same files differently.
    binary: { path: binary, mtimeMs: binaryStat?.mtimeMs ?? null, size: binaryStat?.size ?? null },
  };
  return createHash("sha256").update(JSON.stringify(facts)).digest("hex");
}

/** True when the last successful init of this stack saw exactly what is there now. */
export function initIsCurrent(stackDir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const recorded = contentOf(join(terraformDataDir(stackDir, env), FINGERPRINT_FILE));
  return recorded !== null && recorded === initFingerprint(stackDir, env);
}

/** Runs `terraform init` and, when it succeeds, records what it saw. */
export async function init(
  stackDir: string,
  options: { lock: boolean; color: boolean; env?: NodeJS.ProcessEnv },
): Promise<TerraformRun> {
  const env = options.env ?? process.env;
  const result = await runTerraform(
    ["init", "-input=false", `-lock=${options.lock}`, ...(options.color ? [] : ["-no-color"])],
    { cwd: stackDir, env },
  );
  if (result.status === 0)
    writeFileSync(join(terraformDataDir(stackDir, env), FINGERPRINT_FILE), initFingerprint(stackDir, env));
  return result;
}

/** The file a command name runs, searched on PATH as the shell would; the name itself when not found. */
function onPath(command: string, env: NodeJS.ProcessEnv): string {
  if (command.includes("/")) return resolve(command);
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, command);
    if (dir && statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
  }
  return command;
}

function contentOf(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}
