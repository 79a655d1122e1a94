/**
 * The fast path beside the `cdktf` CLI: the same stacks, state and behaviour (the post-apply and release
 * steps are Terraform local-execs, so they run as they do under `cdktf deploy`), without the CLI's overhead.
 *
 *   npm run plan -- [environment ...] [--out=DIR] [--lock=false]      every environment when none is named
 *   npm run deploy -- <environment ...> [--auto-approve] [--lock=false]
 *   npm run destroy -- <environment ...> [--auto-approve] [--lock=false]
 *
 * Each run synthesizes the named environments (as `npm run synth`, in-process), then drives Terraform directly in
 * cdktf.out/stacks/<env>: `terraform init` only when what it depends on changed (see init.ts), one
 * `terraform plan` per environment, all environments in parallel, one progress line each, and one provider
 * process per environment for its plan and apply (../lib/provider-server.ts). A deploy (or
 * destroy) shows its plans, asks for confirmation unless --auto-approve, and applies exactly the plans it
 * showed (saved plan files, in a private temporary directory, removed afterwards: they hold variable values).
 * Nothing is applied when any plan fails.
 *
 * How to call it and its exit codes: USAGE below.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { environmentNames, environmentsDir } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { synthesize } from "../../stacks/synthesize";
import { init, initIsCurrent } from "./init";
import { Progress } from "./progress";
import { type CommandContext, runCommand, UsageError } from "../lib/cli";
import { type StackTerraform, stackTerraform } from "../lib/provider-server";
import type { TerraformRun } from "../lib/terraform-cli";
import { UserError } from "../lib/user-error";
import {
  applySummary,
  applyText,
  failureText,
  isCompletionLine,
  isRefreshLine,
  planSummary,
  planText,
} from "./terraform-output";

const USAGE = `usage: npm run plan -- [environment ...] [--out=DIR] [--lock=false]      every environment when none is named
       npm run deploy -- <environment ...> [--auto-approve] [--lock=false]
       npm run destroy -- <environment ...> [--auto-approve] [--lock=false]
  Exit codes, as terraform plan -detailed-exitcode: plan 0 no changes, 2 changes, 1 error; deploy and
  destroy 0 done (or nothing to do), 1 error or declined; 70 a bug (stack trace).`;

type Command = "plan" | "deploy" | "destroy";

interface Options {
  readonly command: Command;
  readonly environments: readonly string[];
  readonly autoApprove: boolean;
  readonly lock: boolean;
  /** plan: where to keep the plan files (`<env>.tfplan`). */
  readonly out?: string;
}

interface Planned {
  readonly environment: string;
  readonly result: TerraformRun;
  readonly planFile?: string;
  /** Its Terraform, which applies the plan with the provider that made it. */
  readonly terraform?: StackTerraform;
}

const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const colorFlag = color ? [] : ["-no-color"];

async function main({ argv }: CommandContext): Promise<number> {
  const options = parseCommand(argv);
  // What `npm run synth` does, in this process: the stacks Terraform runs are always this tree's.
  const outdir = resolve(REPO_ROOT, process.env.CDKTF_OUTDIR ?? "cdktf.out");
  synthesize({ only: options.environments, outdir });
  const stacksDir = join(outdir, "stacks");
  const planDir =
    options.out ??
    (options.command === "plan" ? undefined : mkdtempSync(join(tmpdir(), "databricks-app-stack-plans-")));
  // Terraform stops gracefully on Ctrl-C (it gets the signal too); this process waits for it and reports.
  process.on("SIGINT", () => {});
  const terraforms: StackTerraform[] = [];
  try {
    const plans = await planAll(options, stacksDir, planDir, terraforms);
    const failed = plans.filter((p) => !succeeded(p.result));
    const changed = plans.filter((p) => p.result.status === 2);
    for (const p of plans) {
      if (!succeeded(p.result)) section(`${p.environment}: terraform plan failed`, failureText(p.result));
      else if (p.result.status === 2)
        section(`${p.environment}: ${planSummary(p.result.stdout)}`, planText(p.result.stdout));
    }
    if (options.command === "plan") return failed.length ? 1 : changed.length ? 2 : 0;
    if (failed.length)
      throw new UserError(`nothing applied, the plan of ${failed.map((p) => p.environment).join(", ")} failed`);
    if (!changed.length) {
      process.stdout.write(`${options.command}: no changes in ${options.environments.join(", ")}\n`);
      return 0;
    }
    if (
      !options.autoApprove &&
      !(await confirm(
        options.command,
        changed.map((p) => p.environment),
      ))
    ) {
      throw new UserError("not confirmed, nothing applied");
    }
    return (await applyAll(changed, options)) ? 0 : 1;
  } finally {
    await Promise.all(terraforms.map((t) => t.stop()));
    if (planDir && !options.out) rmSync(planDir, { recursive: true, force: true });
  }
}

function parseCommand(argv: readonly string[]): Options {
  const [command, ...rest] = argv;
  if (command !== "plan" && command !== "deploy" && command !== "destroy")
    throw new UsageError(`expected plan, deploy or destroy, found "${command ?? ""}"`);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      "auto-approve": { type: "boolean", default: false },
      lock: { type: "string", default: "true" },
      out: { type: "string" },
    },
    allowPositionals: true,
  });
  if (values.lock !== "true" && values.lock !== "false")
    throw new UsageError(`--lock: expected true or false, found "${values.lock}"`);
  if (command === "plan" && values["auto-approve"])
    throw new UsageError("--auto-approve: plan applies nothing; it is for deploy and destroy");
  if (command !== "plan" && values.out !== undefined)
    throw new UsageError(`--out: ${command} applies the plans it makes; --out is for plan`);
  const known = environmentNames(environmentsDir());
  const unknown = positionals.filter((name) => !known.includes(name));
  if (unknown.length)
    throw new UsageError(
      `unknown environment${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `"${n}"`).join(", ")}; known environments: ${known.join(", ")}`,
    );
  if (command !== "plan" && !positionals.length)
    throw new UsageError(`name the environments to ${command} (known environments: ${known.join(", ")})`);
  // npm runs scripts from the package root; a relative --out is meant from where the user typed it.
  const out = values.out === undefined ? undefined : resolve(process.env.INIT_CWD ?? process.cwd(), values.out);
  return {
    command,
    environments: positionals.length ? [...new Set(positionals)] : known,
    autoApprove: values["auto-approve"],
    lock: values.lock === "true",
    out,
  };
}

/** Plans every environment at once; each one's Terraform is added to `terraforms` (to stop when done). */
async function planAll(
  options: Options,
  stacksDir: string,
  planDir: string | undefined,
  terraforms: StackTerraform[],
): Promise<Planned[]> {
  if (planDir) mkdirSync(planDir, { recursive: true });
  const progress = new Progress(process.stdout, options.environments, "planning");
  try {
    return await Promise.all(
      options.environments.map(async (environment) => {
        const stackDir = join(stacksDir, environment);
        const planFile = planDir && join(planDir, `${environment}.tfplan`);
        const { result, terraform } = await planOne(stackDir, options, planFile, terraforms, (text) =>
          progress.update(environment, text),
        );
        progress.finish(environment, succeeded(result) ? planSummary(result.stdout) : "plan failed");
        return { environment, result, planFile, terraform };
      }),
    );
  } finally {
    progress.close();
  }
}

async function planOne(
  stackDir: string,
  options: Options,
  planFile: string | undefined,
  terraforms: StackTerraform[],
  status: (text: string) => void,
): Promise<{ result: TerraformRun; terraform?: StackTerraform }> {
  let initialized = false;
  if (!initIsCurrent(stackDir)) {
    status("terraform init");
    const result = await init(stackDir, { lock: options.lock, color });
    if (result.status !== 0) return { result };
    initialized = true;
  }
  let read = 0;
  const plan = async () => {
    const terraform = await stackTerraform(stackDir, process.env);
    terraforms.push(terraform);
    status("planning");
    const result = await terraform.run(
      [
        "plan",
        "-input=false",
        "-detailed-exitcode",
        `-lock=${options.lock}`,
        ...(options.command === "destroy" ? ["-destroy"] : []),
        ...(planFile ? [`-out=${planFile}`] : []),
        ...colorFlag,
      ],
      { onLine: (line) => isRefreshLine(line) && status(`planning (${++read} read)`) },
    );
    return { result, terraform };
  };
  const planned = await plan();
  // A data directory changed behind the fingerprint's back (providers removed by hand): init once, plan again.
  if (!initialized && !succeeded(planned.result) && /terraform init/.test(planned.result.stderr)) {
    await planned.terraform.stop();
    status("terraform init");
    const reinit = await init(stackDir, { lock: options.lock, color });
    return reinit.status === 0 ? plan() : { result: reinit };
  }
  return planned;
}

async function applyAll(plans: readonly Planned[], options: Options): Promise<boolean> {
  const progress = new Progress(
    process.stdout,
    plans.map((p) => p.environment),
    options.command === "destroy" ? "destroying" : "applying",
  );
  let results: TerraformRun[];
  try {
    results = await Promise.all(
      plans.map(async ({ environment, planFile, terraform }) => {
        if (!planFile || !terraform) throw new Error(`apply: environment ${environment} has no saved plan`);
        let done = 0;
        const result = await terraform.run(["apply", "-input=false", `-lock=${options.lock}`, ...colorFlag, planFile], {
          // An apply is never cut short: that could leave resources made and not recorded in the state.
          timeoutMs: Infinity,
          onLine: (line) =>
            isCompletionLine(line) &&
            progress.update(
              environment,
              `${options.command === "destroy" ? "destroying" : "applying"} (${++done} done)`,
            ),
        });
        progress.finish(environment, result.status === 0 ? applySummary(result.stdout) : `${options.command} failed`);
        return result;
      }),
    );
  } finally {
    progress.close();
  }
  plans.forEach((p, i) => {
    const result = results[i];
    if (result.status === 0) section(`${p.environment}: ${applySummary(result.stdout)}`, applyText(result.stdout));
    else section(`${p.environment}: terraform apply failed`, failureText(result));
  });
  return results.every((r) => r.status === 0);
}

async function confirm(command: Command, environments: readonly string[]): Promise<boolean> {
  const question = `${command === "destroy" ? "Destroy everything in" : "Apply the plans above to"} ${environments.join(", ")}? Only 'yes' will be accepted: `;
  const lines = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string | undefined>((answered) => {
      lines.once("close", () => answered(undefined));
      // Ctrl-C at the prompt is a no (this process otherwise waits out Ctrl-C for Terraform).
      lines.once("SIGINT", () => lines.close());
      lines.question(question, answered);
    });
    return answer?.trim() === "yes";
  } finally {
    lines.close();
  }
}

function succeeded(result: TerraformRun): boolean {
  return result.status === 0 || result.status === 2;
}

function section(title: string, body: string): void {
  process.stdout.write(`\n── ${title}\n${body ? `${body}\n` : ""}`);
}

const COMMANDS: readonly string[] = ["plan", "deploy", "destroy"] satisfies Command[];

runCommand({ name: COMMANDS.includes(process.argv[2]) ? process.argv[2] : "deploy", usage: USAGE, run: main });
