/**
 * One stack per environment in environments/ (all, or the ones named), written to `<outdir>/stacks/<env>/`:
 * what `npm run synth` (main.ts) and the fast plan and deploy (tools/deploy/) run. Needs no credentials
 * and no network.
 */
import { App } from "./cdktf";
import { AppStack } from "./app-stack";
import { loadEnvironments } from "./config/load-environments";
import { errorAnnotations, GuardrailError } from "./guardrails/nag-pack";
import { stateLocation } from "./state/state-backend";

export interface SynthesizeOptions {
  /** @default - every environment */
  readonly only?: readonly string[];
  /** @default - `CDKTF_OUTDIR`, else `cdktf.out` (as cdktf's App) */
  readonly outdir?: string;
}

/**
 * State goes where STACK_STATE_DIR / STACK_TEST_STATE_DIR say (stacks/state/state-backend.ts); the test-only
 * override is announced on stderr.
 * @throws ConfigError for a mistake in the configuration, MigrationFolderError for one in the migrations
 * folder, GuardrailError listing every guardrail violation of every stack (each is synthesized first);
 * anything else is a bug.
 */
export function synthesize(options: SynthesizeOptions = {}): void {
  // Synthesize every stack even when one breaks a guardrail, then report all violations at once (the cdktf
  // CLI sets this too, and reads the annotations itself).
  process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS ??= "true";

  // cdktf records a full stack trace for every token it creates, for its own diagnostics; mapping those
  // through tsx's source maps was a third of synth time. Map none while synthesizing: a bug's stack trace is
  // formatted when it is printed, after source maps are back on.
  const sourceMaps = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false);
  // Capturing those traces at all (through Error.captureStackTrace) was another fifth of the time per stack:
  // capture none while synthesizing. Errors still get their stack when constructed (Node's own errors use a
  // private copy of the function).
  const captureStackTrace = Error.captureStackTrace;
  Error.captureStackTrace = () => {};
  try {
    const environments = loadEnvironments({ only: options.only });
    const state = stateLocation();
    if (state.testStateDir) {
      const replaced = environments
        .filter((e) => e.backend.type !== "local")
        .map((e) => `${e.name} (${e.backend.type})`);
      console.error(
        `WARNING: STACK_TEST_STATE_DIR is set: every environment keeps its Terraform state in ${state.testStateDir}/<env>.tfstate` +
          `${replaced.length ? `, replacing the configured backends of ${replaced.join(", ")}` : ""}. For tests only: never deploy a real workspace this way.`,
      );
    }
    const app = new App({ outdir: options.outdir });
    for (const config of environments) new AppStack(app, config.name, { config, state });
    app.synth();
    const violations = errorAnnotations(app);
    if (violations.length) throw new GuardrailError(violations);
  } finally {
    process.setSourceMapsEnabled(sourceMaps);
    Error.captureStackTrace = captureStackTrace;
  }
}
