/**
 * Terraform's view of an environment as findings. A refreshing plan's `resource_drift` is what changed
 * outside Terraform (out-of-band), attribute by attribute, limited to the attributes the configuration sets
 * (the platform's own bookkeeping — statuses, timestamps, object ids — changes by design and is never
 * planned back). The unapplied changes, measured from the state as last applied (./last-deployed.ts), are
 * what this commit changes since the last deploy: exactly that, with drift neither counted twice nor mixed
 * into it. Sensitive values are masked by the plan's own markings.
 */
import { changedTriggers, deployStepOf, STEP_WORK, stepReasons } from "../lib/deploy-steps";
import {
  type Action,
  actionOf,
  attributeChanges,
  type AttributeChange,
  configuredAttributes,
  labelOf,
  replacementReason,
  type PlanJson,
  type ResourceChangeJson,
} from "../lib/terraform-plan";
import { type Finding, type Severity, shown } from "./findings";

export interface PlanFindings {
  readonly findings: readonly Finding[];
  /** The next deploy grants again because this commit changes what is granted, or to whom (or it never ran). */
  readonly grantsPending: boolean;
  /** The next deploy releases the app's code again. */
  readonly releasePending: boolean;
}

/** Resource types whose drift is about who may do what: high, like the database's access findings. */
const ACCESS_TYPES = new Set(["databricks_permissions", "databricks_secret_acl"]);

/** `plan`: a refreshing plan (its drift and configuration); `unapplied`: this commit's changes since the last deploy. */
export function planFindings(
  environment: string,
  plan: PlanJson,
  unapplied: readonly ResourceChangeJson[],
): PlanFindings {
  const deploy = `npx cdktf deploy ${environment}`;
  const configured = configuredAttributes(plan);
  const findings: Finding[] = [];

  for (const drift of plan.resource_drift ?? []) {
    const action = actionOf(drift.change.actions);
    const object = describe(drift);
    if (action === "destroy") {
      findings.push({
        check: "terraform",
        class: "out-of-band",
        object,
        expected: "exists (in the Terraform state)",
        found: "deleted outside Terraform",
        severity: "high",
        remediation: `${deploy} creates it again; or remove it from the configuration`,
      });
      continue;
    }
    for (const change of attributeChanges(drift.change, configured(drift.address))) {
      findings.push({
        check: "terraform",
        class: "out-of-band",
        object: `${object} ${change.path}`,
        expected: shown(change.before),
        found: shown(change.after),
        severity: ACCESS_TYPES.has(drift.type) ? "high" : "medium",
        remediation: `${deploy} sets it back (Terraform owns it); or accept it by putting it in environments/${environment}.yaml`,
      });
    }
  }

  let grantsPending = false;
  let releasePending = false;
  for (const change of unapplied) {
    const action = actionOf(change.change.actions);
    if (!action) continue;
    const step = deployStepOf(change);
    if (step === "post-apply")
      grantsPending ||= !change.change.before || changedTriggers(change).some((t) => t.trigger !== "migrations_sha256");
    if (step === "release") releasePending = true;
    const changes = attributeChanges(change.change, configured(change.address));
    findings.push(
      step ? stepFinding(change, step, deploy) : unappliedFinding(change, action, changes, deploy, unapplied),
    );
  }
  return { findings, grantsPending, releasePending };
}

function unappliedFinding(
  change: ResourceChangeJson,
  action: Action,
  changes: readonly AttributeChange[],
  deploy: string,
  all: readonly ResourceChangeJson[],
): Finding {
  const severity: Severity = action === "replace" || action === "destroy" ? "medium" : "low";
  const common = { check: "terraform" as const, class: "unapplied" as const, object: describe(change), severity };
  if (action === "create")
    return { ...common, expected: "exists (in this commit)", found: "absent", remediation: `${deploy} creates it` };
  if (action === "destroy")
    return {
      ...common,
      expected: "absent (not in this commit)",
      found: "exists",
      remediation: `${deploy} destroys it`,
    };
  const attributes = (side: "before" | "after") => listed(changes.map((c) => `${c.path} = ${shown(c[side])}`));
  const why = action === "replace" ? ` (${replacementReason(change, all)})` : "";
  return {
    ...common,
    expected: attributes("after"),
    found: attributes("before"),
    remediation: `${deploy} ${action === "replace" ? "replaces" : "updates"} it${why}`,
  };
}

function stepFinding(change: ResourceChangeJson, step: "post-apply" | "release", deploy: string): Finding {
  return {
    check: step === "release" ? "release" : "migrations",
    class: "unapplied",
    object: `${change.address}: ${STEP_WORK[step]}`,
    expected: "run for this commit",
    found: `not yet: ${stepReasons(change).join("; ") || "its inputs changed"}`,
    severity: "low",
    remediation: `${deploy} runs it`,
  };
}

/** `address (label)` — the label from whichever side has values. */
function describe(change: ResourceChangeJson): string {
  const label = labelOf(change.change.after) || labelOf(change.change.before);
  return label ? `${change.address} (${label})` : change.address;
}

function listed(items: readonly string[]): string {
  return items.length > 5 ? `${items.slice(0, 5).join("; ")}; … and ${items.length - 5} more` : items.join("; ");
}
