/**
 * The Terraform CLI `npm run tools:bootstrap` provides, with a CLI config whose filesystem mirror holds the
 * Databricks provider; the scripts that need it (the terraform and e2e tiers, the benchmarks) source
 * `.tools/env`, which exports TERRAFORM_BINARY_NAME and TF_CLI_CONFIG_FILE.
 */
import { terraformBinary } from "../terraform-cli";
import { UserError } from "../user-error";

/** The bootstrapped Terraform binary. @throws UserError saying how to get it when `.tools/env` was not sourced. */
export function bootstrappedTerraform(): string {
  if (!process.env.TERRAFORM_BINARY_NAME || !process.env.TF_CLI_CONFIG_FILE) {
    throw new UserError(
      "TERRAFORM_BINARY_NAME / TF_CLI_CONFIG_FILE are not set: run `npm run tools:bootstrap`, then this tier through its npm script (it sources .tools/env)",
    );
  }
  return terraformBinary(process.env);
}
