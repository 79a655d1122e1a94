/**
 * `npm run synth [-- <env>...]`: one stack per environment in environments/ (all, or the ones named),
 * written to cdktf.out/stacks/<env>/cdk.tf.json. Needs no credentials and no network.
 */
import { ConfigError } from "./stacks/config/config-error";
import { GuardrailError } from "./stacks/guardrails/nag-pack";
import { synthesize } from "./stacks/synthesize";
import { MigrationFolderError } from "./tools/lib/migration-folder";

try {
  synthesize({ only: process.argv.slice(2) });
} catch (e) {
  // The user's mistakes get their message alone; anything else is a bug and keeps its stack trace.
  if (!(e instanceof ConfigError || e instanceof GuardrailError || e instanceof MigrationFolderError)) throw e;
  console.error(e.message);
  process.exitCode = 1;
}
