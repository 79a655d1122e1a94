/**
 * The saved plans a plan-mode review renders, named by `--plan` (a file, or a directory of them), one per
 * environment, the environment being the file name up to its first dot:
 *
 *   <env>.json     the output of `terraform show -json <planfile>`
 *   <env>.tfplan   a plan file from `terraform plan -out`; shown with `terraform show -json` in the
 *                  environment's stack directory (`cdktf.out/stacks/<env>`, initialized, as after the plan)
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { oneLine } from "../lib/one-line";
import { runTerraform, TerraformNotRunnable } from "../lib/terraform-cli";
import type { PlanJson } from "../lib/terraform-plan";
import { ReviewError } from "./trees";

export interface SavedPlan {
  readonly environment: string;
  /** The file it was read from, as given. */
  readonly file: string;
  readonly plan: PlanJson;
}

const PLAN_FILE = /^([A-Za-z0-9_-]+)\.(?:.*\.)?(json|tfplan)$/;

export async function readSavedPlans(
  paths: readonly string[],
  root: string,
  env: NodeJS.ProcessEnv,
): Promise<SavedPlan[]> {
  const files = paths.flatMap((path) => {
    if (!existsSync(path)) throw new ReviewError(`--plan ${path}: no such file or directory`);
    if (!statSync(path).isDirectory()) return [path];
    const inside = readdirSync(path)
      .filter((name) => PLAN_FILE.test(name))
      .sort()
      .map((name) => join(path, name));
    if (!inside.length)
      throw new ReviewError(
        `--plan ${path}: expected <env>.json (terraform show -json output) or <env>.tfplan files in it, found none`,
      );
    return inside;
  });
  const plans: SavedPlan[] = [];
  for (const file of files) {
    const match = PLAN_FILE.exec(basename(file));
    if (!match)
      throw new ReviewError(
        `--plan ${file}: expected a file named <env>.json (terraform show -json output) or <env>.tfplan (terraform plan -out)`,
      );
    const [, environment, kind] = match;
    const earlier = plans.find((p) => p.environment === environment);
    if (earlier)
      throw new ReviewError(
        `--plan ${file}: a second plan for environment "${environment}" (the first is ${earlier.file})`,
      );
    const text = kind === "json" ? readFileSync(file, "utf8") : await showBinaryPlan(file, environment, root, env);
    plans.push({ environment, file, plan: parsePlan(file, text) });
  }
  return plans;
}

async function showBinaryPlan(
  file: string,
  environment: string,
  root: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const stackDir = join(root, "cdktf.out", "stacks", environment);
  if (!existsSync(join(stackDir, ".terraform"))) {
    throw new ReviewError(
      `--plan ${file}: a plan file is shown with terraform show -json in ${stackDir}, which is not initialized here (run terraform init there, or hand over the output of terraform show -json as ${environment}.json)`,
    );
  }
  try {
    const shown = await runTerraform(["show", "-json", "-no-color", resolve(file)], { cwd: stackDir, env });
    if (shown.status !== 0)
      throw new ReviewError(`--plan ${file}: terraform show -json failed: ${oneLine(shown.stderr)}`);
    return shown.stdout;
  } catch (error) {
    if (error instanceof TerraformNotRunnable)
      throw new ReviewError(
        `--plan ${file}: Terraform is needed to read a plan file: ${error.message}; or hand over terraform show -json output`,
      );
    throw error;
  }
}

function parsePlan(file: string, text: string): PlanJson {
  let plan: unknown;
  try {
    plan = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text, and a plan's text holds secret values.
    throw new ReviewError(
      `--plan ${file}: expected the JSON of terraform show -json <planfile>, found text that is not JSON`,
    );
  }
  const shape = plan as Partial<PlanJson> | null;
  if (!shape || typeof shape !== "object" || typeof shape.format_version !== "string" || !("planned_values" in shape)) {
    const found =
      shape && typeof shape === "object"
        ? `an object with keys ${Object.keys(shape).slice(0, 8).join(", ") || "(none)"}`
        : JSON.stringify(shape);
    throw new ReviewError(
      `--plan ${file}: expected the JSON of terraform show -json <planfile> (format_version, planned_values, resource_changes), found ${found}`,
    );
  }
  if (!shape.format_version.startsWith("1."))
    throw new ReviewError(`--plan ${file}: format_version: expected 1.x, found "${shape.format_version}"`);
  return plan as PlanJson;
}
