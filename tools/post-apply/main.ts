/**
 * The post-apply runner's command line (USAGE below): `apply` and `release` as Terraform's local-execs run
 * them, with the inputs of tools/lib/post-apply-inputs.ts; `<env>` by hand, with the inputs from the YAML.
 *
 * Credentials come only from the environment (DATABRICKS_HOST + DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID +
 * DATABRICKS_CLIENT_SECRET, or DATABRICKS_CONFIG_PROFILE / ~/.databrickscfg), never from arguments.
 */
import { parseArgs } from "node:util";
import { loadEnvironments } from "../../stacks/config/load-environments";
import { type CommandContext, runCommand, UsageError } from "../lib/cli";
import {
  inputsFromApplyEnvironment,
  inputsFromEnvironmentConfig,
  type PostApplyInputs,
  releaseInputsFromEnvironment,
} from "../lib/post-apply-inputs";
import { postApply } from "./post-apply";
import { Workspace } from "../lib/workspace";
import { release } from "./release";

const USAGE = `usage: npm run migrate -- <environment> [--dry-run]                           (inputs from environments/<environment>.yaml)
       node tools/build/run.cjs tools/post-apply/main.ts apply [--dry-run]   (inputs from POST_APPLY_* variables)
       node tools/build/run.cjs tools/post-apply/main.ts release             (deploy the app's code; POST_APPLY_* variables)
  Exit codes: 0 done (dry run: nothing to do), 2 the dry run found changes to make, 1 an error to fix
  (one line: post-apply failed at <step>: ...), 70 a bug (stack trace).`;

async function main({ argv, env, mask }: CommandContext): Promise<number> {
  const { target, dryRun } = parseCommand(argv);
  const report = (step: string, detail: string) => process.stdout.write(mask(`  ${step.padEnd(11)} ${detail}\n`));
  if (target === "release") {
    if (dryRun)
      throw new UsageError(
        "release has no --dry-run: the review and drift tools say whether the app would be redeployed",
      );
    await release(releaseInputsFromEnvironment(env), new Workspace(), report);
    return 0;
  }
  const { inputs, workspace } =
    target === "apply"
      ? { inputs: inputsFromApplyEnvironment(env, dryRun), workspace: new Workspace() }
      : await fromEnvironmentConfig(target, env, dryRun);
  const { changed } = await postApply(inputs, workspace, report);
  return dryRun && changed ? 2 : 0;
}

/** `npm run migrate -- <env>`: the inputs from the environment's YAML and its app's service principal. */
async function fromEnvironmentConfig(
  name: string,
  env: NodeJS.ProcessEnv,
  dryRun: boolean,
): Promise<{ inputs: PostApplyInputs; workspace: Workspace }> {
  const [config] = loadEnvironments({ only: [name] });
  const workspace = new Workspace(config.workspace);
  const appRole = await workspace.appServicePrincipalClientId(config.app.name);
  return { inputs: inputsFromEnvironmentConfig(config, appRole, env, dryRun), workspace };
}

/** `apply`, `release` or an environment's name, and whether to change nothing. */
function parseCommand(argv: readonly string[]): { target: string; dryRun: boolean } {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { "dry-run": { type: "boolean", default: false } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length
        ? `expected one environment, found ${positionals.join(" ")}`
        : "expected an environment name, apply or release",
    );
  }
  return { target: positionals[0], dryRun: values["dry-run"] };
}

runCommand({ name: "post-apply", usage: USAGE, run: main });
