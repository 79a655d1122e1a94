/**
 * `npm run synth [-- <env>...]`: one stack per environment in environments/ (all, or the ones named),
 * written to cdktf.out/stacks/<env>/cdk.tf.json. Needs no credentials and no network.
 */
import { App } from "./stacks/cdktf";
import { AppStack } from "./stacks/app-stack";
import { ConfigError } from "./stacks/config/config-error";
import { loadEnvironments } from "./stacks/config/load-environments";
import { errorAnnotations, GuardrailError } from "./stacks/guardrails/nag-pack";
import { stateLocation } from "./stacks/state/state-backend";
import { MigrationFolderError } from "./tools/lib/migration-folder";

// Synthesize every stack even when one breaks a guardrail, then report all violations at once (the cdktf
// CLI sets this too, and reads the annotations itself).
process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS ??= "true";

// cdktf records a full stack trace for every token it creates, for its own diagnostics; mapping those
// through tsx's source maps was a third of synth time. Map none while synthesizing: a bug's stack trace is
// formatted when it is printed, after source maps are back on.
const sourceMaps = process.sourceMapsEnabled;
process.setSourceMapsEnabled(false);
try {
  const environments = loadEnvironments({ only: process.argv.slice(2) });
  const state = stateLocation();
  if (state.testStateDir) {
    const replaced = environments.filter((e) => e.backend.type !== "local").map((e) => `${e.name} (${e.backend.type})`);
    console.error(
      `WARNING: STACK_TEST_STATE_DIR is set: every environment keeps its Terraform state in ${state.testStateDir}/<env>.tfstate` +
        `${replaced.length ? `, replacing the configured backends of ${replaced.join(", ")}` : ""}. For tests only: never deploy a real workspace this way.`,
    );
  }
  const app = new App();
  for (const config of environments) new AppStack(app, config.name, { config, state });
  app.synth();
  const violations = errorAnnotations(app);
  if (violations.length) throw new GuardrailError(violations);
} catch (e) {
  process.setSourceMapsEnabled(sourceMaps);
  // The user's mistakes get their message alone; anything else is a bug and keeps its stack trace.
  if (!(e instanceof ConfigError || e instanceof GuardrailError || e instanceof MigrationFolderError)) throw e;
  console.error(e.message);
  process.exitCode = 1;
}
