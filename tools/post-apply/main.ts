/**
 * The post-apply runner's command line.
 *
 *   node tools/build/run.cjs tools/post-apply/main.ts apply [--dry-run]   inputs from POST_APPLY_* (Terraform local-exec)
 *   node tools/build/run.cjs tools/post-apply/main.ts release             deploy the app's code (Terraform local-exec)
 *   npm run migrate -- <env> [--dry-run]                           inputs from environments/<env>.yaml
 *
 * Credentials come only from the environment (DATABRICKS_HOST + DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID +
 * DATABRICKS_CLIENT_SECRET, or DATABRICKS_CONFIG_PROFILE / ~/.databrickscfg), never from arguments.
 * Exit codes: 0 ok (dry run: nothing to do), 1 error, 2 dry run found changes to make.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../../stacks/config/config-error";
import { loadEnvironments } from "../../stacks/config/load-environments";
import {
  inputsFromApplyEnvironment,
  inputsFromEnvironmentConfig,
  releaseInputsFromEnvironment,
  type PostApplyInputs,
} from "./inputs";
import { release } from "./release";
import { postApply } from "./post-apply";
import { messageOf, StepError } from "../lib/step-error";
import { Workspace } from "../lib/workspace";

const USAGE = `usage: npm run migrate -- <environment> [--dry-run]
       node tools/build/run.cjs tools/post-apply/main.ts apply [--dry-run]   (inputs from POST_APPLY_* variables)
       node tools/build/run.cjs tools/post-apply/main.ts release             (inputs from POST_APPLY_* variables)`;

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    return print(process.stderr, `${messageOf(error)}\n${USAGE}`, 1);
  }
  if (command.help) return print(process.stdout, USAGE, 0);

  const { target, dryRun } = command;
  const report = (step: string, detail: string) => process.stdout.write(`  ${step.padEnd(11)} ${detail}\n`);
  try {
    if (target === "release") {
      if (dryRun)
        throw new Error("release has no --dry-run: the review and drift tools say whether the app would be redeployed");
      await release(releaseInputsFromEnvironment(env), new Workspace(), report);
      return 0;
    }
    const { inputs, workspace } =
      target === "apply" ? fromApplyEnvironment(env, dryRun) : await fromEnvironmentConfig(target, env, dryRun);
    const { changed } = await postApply(inputs, workspace, report);
    return dryRun && changed ? 2 : 0;
  } catch (error) {
    if (error instanceof StepError)
      return print(process.stderr, `post-apply failed at ${error.step}: ${error.message}`, 1);
    if (error instanceof ConfigError) return print(process.stderr, error.message, 1);
    return print(process.stderr, `post-apply failed: ${messageOf(error)}`, 1);
  }
}

interface Command {
  /** `apply`, or an environment name. */
  readonly target: string;
  readonly dryRun: boolean;
  readonly help: boolean;
}

function parseCommand(argv: readonly string[]): Command {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { "dry-run": { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
    allowPositionals: true,
  });
  if (!values.help && positionals.length !== 1) {
    throw new Error(
      positionals.length
        ? `expected one environment, found ${positionals.join(" ")}`
        : "expected an environment name or apply",
    );
  }
  return { target: positionals[0], dryRun: values["dry-run"], help: values.help };
}

function fromApplyEnvironment(
  env: NodeJS.ProcessEnv,
  dryRun: boolean,
): { inputs: PostApplyInputs; workspace: Workspace } {
  return { inputs: inputsFromApplyEnvironment(env, dryRun), workspace: new Workspace() };
}

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

function print(stream: NodeJS.WriteStream, text: string, code: number): number {
  stream.write(`${text}\n`);
  return code;
}

main(process.argv.slice(2), process.env).then((code) => {
  process.exitCode = code;
});
