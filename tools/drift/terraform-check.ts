/**
 * Terraform's half of the drift check, read-only: `init`, then one refreshing plan, `-lock=false`, saved to a
 * file only to be read back with `show -json` when it changes anything: its drift is what changed outside
 * Terraform, and its changes measured from the state as last applied are what this commit changes
 * (./last-deployed.ts). Each plan and show starts Terraform, which loads the provider's large schema (from
 * one provider process per environment, ../lib/provider-server.ts): that is most of the cost of a drift run,
 * so there is one of each (but for the deleted app below). Plans
 * never write state, and without the lock nothing is written next to it either; `refresh` and
 * `apply -refresh-only`, which do write state, are never run.
 *
 * When Terraform cannot check the environment the result says exactly what was missing: the binary, the
 * provider, the state, credentials, or a secret variable's value.
 */
import { existsSync } from "node:fs";
import { oneLine } from "../lib/one-line";
import {
  type Diagnostic,
  errorDiagnostics,
  planChangesNothing,
  runTerraform,
  TerraformNotRunnable,
  type TerraformRun,
} from "../lib/terraform-cli";
import { type PlanJson, priorResources } from "../lib/terraform-plan";
import { type StackTerraform, stackTerraform } from "../lib/provider-server";
import type { Finding } from "./findings";
import { lastDeployedResources, unappliedChanges } from "./last-deployed";
import { planFindings, type PlanFindings } from "./plan-findings";
import type { SynthesizedStack } from "./stacks";

export interface TerraformResult extends PlanFindings {
  readonly notChecked: readonly string[];
  /** What was missing when Terraform could not check the environment. */
  readonly error?: string;
  /** Objects deleted outside Terraform that the provider fails to read (so no plan could be made). */
  readonly unreadable: readonly string[];
  /** The app's service principal as the state knows it (its Postgres role, also when the app is gone). */
  readonly stateAppRole?: string;
}

const NOTHING: PlanFindings = { findings: [], grantsPending: false, releasePending: false };

export async function checkTerraform(
  environment: string,
  stack: SynthesizedStack,
  env: NodeJS.ProcessEnv,
): Promise<TerraformResult> {
  const fail = (error: string): TerraformResult => ({
    ...NOTHING,
    notChecked: [],
    unreadable: [],
    error: `terraform: ${error}`,
  });
  if (stack.localState && !existsSync(stack.localState)) {
    return fail(
      `state: no local state file at ${stack.localState} (never deployed from this checkout; run where its state is, or give the environment a remote backend)`,
    );
  }
  let stop = async () => {};
  try {
    const init = await runTerraform(
      ["init", "-input=false", "-no-color", ...(stack.localState ? [`-backend-config=path=${stack.localState}`] : [])],
      { cwd: stack.dir, env },
    );
    if (init.status !== 0) return fail(initFailure(init));
    const { run, stop: stopProvider } = await stackTerraform(stack.dir, env);
    stop = stopProvider;

    const refresh = await plan(run, "drift.tfplan", []);
    if ("failure" in refresh) return fail(refresh.failure);
    if ("unchanged" in refresh) return { ...NOTHING, notChecked: [], unreadable: [] };
    const deployed = lastDeployedResources(refresh.plan);
    if (deployed.length === 0) {
      return fail(
        "state: the state holds no resources (never deployed with this backend, or this is not the environment's state)",
      );
    }
    const role = deployed.find((r) => r.type === "databricks_app")?.values?.service_principal_client_id;
    const stateAppRole = typeof role === "string" ? role : undefined;
    if (!refresh.unreadable.length) {
      const found = planFindings(environment, refresh.plan, unappliedChanges(refresh.plan));
      return { ...found, notChecked: [], unreadable: [], stateAppRole };
    }
    // Provider 1.99 fails every refresh while the app is gone: the drift found before the failure is all there
    // is, and only a plan that does not refresh shows what this commit changes.
    const normal = await plan(run, "normal.tfplan", ["-refresh=false"]);
    if ("failure" in normal) return fail(normal.failure);
    const found = planFindings(environment, refresh.plan, "plan" in normal ? (normal.plan.resource_changes ?? []) : []);
    const unreadable = refresh.unreadable.map((address) => unreadableFinding(environment, address, refresh.plan));
    const notChecked = [
      `terraform: the refresh stopped at ${refresh.unreadable.join(", ")}; resources that depend on it were not refreshed`,
    ];
    return {
      ...found,
      findings: [...unreadable, ...found.findings],
      notChecked,
      unreadable: refresh.unreadable,
      stateAppRole,
    };
  } catch (error) {
    if (error instanceof TerraformNotRunnable) return fail(`terraform binary: ${error.message}`);
    throw error;
  } finally {
    await stop();
  }
}

type PlanOutcome = { plan: PlanJson; unreadable: string[] } | { unchanged: true } | { failure: string };

/**
 * A saved plan read back as JSON. A plan that failed only on deleted objects is still read: it holds the
 * drift found before. A plan that changes nothing is not: `show -json` starts the provider once more, and
 * what it would show is no finding — drift in an attribute the configuration sets is planned back, so there
 * is none, and nothing is unapplied (the platform's own bookkeeping changes without a planned change).
 */
async function plan(run: StackTerraform["run"], file: string, mode: string[]): Promise<PlanOutcome> {
  const result = await run(["plan", "-input=false", "-lock=false", "-json", `-out=${file}`, ...mode]);
  const errors = errorDiagnostics(result.stdout);
  const unreadable = errors.filter(isDeletedObject);
  if (result.status !== 0 && (unreadable.length === 0 || unreadable.length !== errors.length))
    return { failure: planFailure(errors, result) };
  if (result.status === 0 && planChangesNothing(result.stdout)) return { unchanged: true };
  const show = await run(["show", "-json", "-no-color", file]);
  if (show.status !== 0) return { failure: `terraform show -json failed: ${oneLine(show.stderr)}` };
  return { plan: JSON.parse(show.stdout) as PlanJson, unreadable: unreadable.flatMap((d) => d.address ?? []) };
}

/** Provider 1.99's Read of an app deleted out of band: "failed to read app … not found / does not exist or is deleted". */
function isDeletedObject(d: Diagnostic): boolean {
  return (
    Boolean(d.address) &&
    /^failed to read/i.test(d.summary) &&
    /not found|does not exist|is deleted/i.test(d.detail ?? "")
  );
}

function unreadableFinding(environment: string, address: string, plan: PlanJson): Finding {
  const name = priorResources(plan).find((r) => r.address === address)?.values?.name;
  return {
    check: "terraform",
    class: "out-of-band",
    object: typeof name === "string" ? `${address} (${name})` : address,
    expected: "exists (in the Terraform state)",
    found:
      "deleted outside Terraform; the provider fails to read it, so every refreshing plan and deploy of this environment fails",
    severity: "high",
    remediation:
      `in the stack directory (npx cdktf synth ${environment}; cd cdktf.out/stacks/${environment}): terraform state rm '${address}', ` +
      `then npx cdktf deploy ${environment} creates it again (provider 1.99 cannot plan past it; fixed in 1.106)`,
  };
}

/** What `terraform init` lacked: the provider, or access to the state's backend. */
function initFailure(init: TerraformRun): string {
  const text = oneLine(init.stderr || init.stdout);
  if (/provider/i.test(text) && /install|query|locate|registry|mirror|checksum|lock file|available/i.test(text)) {
    return `provider: the Databricks provider could not be installed (npm run tools:bootstrap sets up an offline mirror; or allow access to the registry): ${text}`;
  }
  if (/backend|state|bucket|storage|container|credential|access denied|forbidden/i.test(text))
    return `state access: the backend could not be reached: ${text}`;
  return `terraform init failed: ${text}`;
}

/** What `terraform plan` lacked: a secret variable's value, credentials, state access; or its own error. */
function planFailure(errors: readonly Diagnostic[], result: TerraformRun): string {
  const missing = errors.flatMap((d) =>
    /No value for required variable/i.test(d.summary) ? [/variable "([^"]+)"/.exec(d.detail ?? "")?.[1] ?? "?"] : [],
  );
  if (missing.length)
    return `secret values: ${missing.map((name) => `TF_VAR_${name}`).join(", ")} not set (a plan needs every secret's value, as a deploy does)`;
  const text = errors.length
    ? errors.map((d) => `${d.summary}${d.detail ? `: ${d.detail}` : ""}`).join("; ")
    : result.stderr || result.stdout;
  const line = oneLine(text);
  if (/credential|authenticat|unauthori[sz]ed|invalid (access )?token|\b401\b|cannot configure default/i.test(line)) {
    return `credentials: the Databricks provider could not authenticate (set DATABRICKS_HOST with DATABRICKS_TOKEN or DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET, or a profile): ${line}`;
  }
  if (/state|backend/i.test(line)) return `state access: ${line}`;
  return `terraform plan failed: ${line}`;
}
