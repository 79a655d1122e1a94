/**
 * Running the real Terraform CLI from tests: the one the bootstrap provides (tools/lib/local/toolchain.ts),
 * and whether its provider could be had, for the tests that skip without it.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { bootstrappedTerraform } from "../../tools/lib/local/toolchain";

/**
 * Why the Databricks provider cannot be used here, or undefined when the bootstrap put it in its mirror. The
 * bootstrap exits 3 but still prepares everything else when it cannot get the provider, and CI then runs the
 * e2e tier anyway; tests that apply with the provider skip with this reason.
 */
export function providerUnavailable(): string | undefined {
  const version = join(
    process.env.DATABRICKS_PROVIDER_MIRROR ?? "",
    "registry.terraform.io",
    "databricks",
    "databricks",
    "1.99.0",
  );
  const found =
    existsSync(version) &&
    readdirSync(version).some((platform) =>
      existsSync(join(version, platform, "terraform-provider-databricks_v1.99.0")),
    );
  return found
    ? undefined
    : "the Databricks provider 1.99.0 is not in the bootstrap's mirror (DATABRICKS_PROVIDER_MIRROR); see npm run tools:bootstrap";
}

/** Runs terraform in `dir`; throws with its output unless it succeeds (or `allowFailure`). */
export function terraform(
  dir: string,
  args: string[],
  options: { allowFailure?: boolean; env?: NodeJS.ProcessEnv } = {},
): SpawnSyncReturns<string> {
  const result = spawnSync(bootstrappedTerraform(), args, {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1", ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  if (result.status !== 0 && !options.allowFailure) {
    throw new Error(
      `terraform ${args.join(" ")} in ${dir} exited ${result.status}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}
