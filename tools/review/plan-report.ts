/**
 * The review of saved Terraform plans, one section per environment: what the plan does (replacements
 * counted apart from creates and destroys, with Terraform's own reason for each), what changed outside
 * Terraform since the last apply, whether the deploy's own steps run and why, and attribute diffs of what
 * the configuration sets (unknown-after-apply values marked, sensitive ones masked by the plan's markings).
 */
import { STATEFUL_RESOURCE_TYPES } from "../../stacks/stateful-resources";
import { type DeployStep, deployStepOf, stepReasons } from "../lib/deploy-steps";
import {
  type Action,
  actionOf,
  attributeChanges,
  type AttributeChange,
  configuredAttributes,
  labelOf,
  priorResources,
  replacementReason,
  type ResourceChangeJson,
  sensitiveVariableValues,
} from "../lib/terraform-plan";
import { bindingGraph } from "./binding-graph";
import { ACTIONS, type Instance, type ResourceChange } from "./offline-plan";
import type { SavedPlan } from "./saved-plans";

export interface OutOfBandChange {
  readonly address: string;
  readonly label: string;
  /** `deleted`: gone outside Terraform; `changed`: attributes the configuration sets differ from the state. */
  readonly kind: "deleted" | "changed";
  /** In state (before) → now (after). */
  readonly changes: readonly AttributeChange[];
}

export interface StepWork {
  readonly step: DeployStep;
  readonly address: string;
  readonly runs: boolean;
  readonly reasons: readonly string[];
}

/** An environment's plan: its changes as the offline review shows them (their attribute changes limited to what the configuration sets), and more. */
export interface PlanEnvironmentReport {
  readonly environment: string;
  /** The saved plan it was read from. */
  readonly file: string;
  readonly counts: Readonly<Record<Action, number>>;
  /** Stateful resources (data, credentials, the app) destroyed or replaced: the banner. */
  readonly stateful: readonly ResourceChange[];
  readonly changes: readonly ResourceChange[];
  readonly outOfBand: readonly OutOfBandChange[];
  /** The post-apply step and the release: whether the deploy runs them, and why. */
  readonly steps: readonly StepWork[];
  /** The plan started from a state without resources: everything is created (a new environment, or the state is not the environment's). */
  readonly emptyState: boolean;
  /** Planning failed part-way: the plan is incomplete. */
  readonly errored: boolean;
  /** Mermaid source of the environment's resources and bindings. */
  readonly graph: string;
}

export interface PlanReport {
  readonly environments: readonly PlanEnvironmentReport[];
  /** Any environment changes (a resource change, or a change made outside Terraform). */
  readonly changed: boolean;
}

export function planReview(plans: readonly SavedPlan[]): PlanReport {
  const environments = [...plans].sort((a, b) => a.environment.localeCompare(b.environment)).map(environmentReport);
  return { environments, changed: environments.some((e) => e.changes.length > 0 || e.outOfBand.length > 0) };
}

/** Every secret value the plans carry (sensitive variables): masked wherever they would show. */
export function planSecretValues(plans: readonly SavedPlan[]): string[] {
  return plans.flatMap(({ plan }) => sensitiveVariableValues(plan));
}

function environmentReport({ environment, file, plan }: SavedPlan): PlanEnvironmentReport {
  const configured = configuredAttributes(plan);
  const all = plan.resource_changes ?? [];
  const changes = all.flatMap((c): ResourceChange[] => {
    const action = actionOf(c.change.actions);
    if (!action) return [];
    const reason =
      action === "replace" ? replacementReason(c, all) : action === "destroy" ? destroyReason(c) : undefined;
    return [
      {
        address: c.address,
        type: c.type,
        label: label(c),
        action,
        ...(reason && { reason }),
        changes: attributeChanges(c.change, configured(c.address)),
      },
    ];
  });
  const counts = Object.fromEntries(
    ACTIONS.map((action) => [action, changes.filter((c) => c.action === action).length]),
  ) as Record<Action, number>;
  const outOfBand = (plan.resource_drift ?? []).flatMap((d): OutOfBandChange[] => {
    const action = actionOf(d.change.actions);
    if (action === "destroy") return [{ address: d.address, label: label(d), kind: "deleted", changes: [] }];
    const drifted = attributeChanges(d.change, configured(d.address));
    return drifted.length ? [{ address: d.address, label: label(d), kind: "changed", changes: drifted }] : [];
  });
  const steps = all.flatMap((c): StepWork[] => {
    const step = deployStepOf(c);
    if (!step) return [];
    const action = actionOf(c.change.actions);
    const runs = action === "create" || action === "replace";
    return [{ step, address: c.address, runs, reasons: runs ? stepReasons(c) : [] }];
  });
  const instances = new Map(
    all.map((c): [string, Instance] => [
      c.address,
      {
        type: c.type,
        config: (c.change.after ?? c.change.before ?? {}) as Record<string, unknown>,
        replaceTriggeredBy: [],
      },
    ]),
  );
  return {
    environment,
    file,
    counts,
    stateful: changes.filter(
      (c) => STATEFUL_RESOURCE_TYPES.has(c.type) && (c.action === "destroy" || c.action === "replace"),
    ),
    changes,
    outOfBand,
    steps,
    emptyState: priorResources(plan).length === 0,
    errored: Boolean(plan.errored),
    graph: bindingGraph(instances, new Map(changes.map((c) => [c.address, c.action]))),
  };
}

function label(change: ResourceChangeJson): string {
  return labelOf(change.change.after) || labelOf(change.change.before);
}

/** Terraform's reason for a destroy, in words. */
function destroyReason(change: ResourceChangeJson): string {
  switch (change.action_reason) {
    case "delete_because_no_resource_config":
      return "removed from the configuration";
    case "delete_because_each_key":
    case "delete_because_count_index":
      return "its key is no longer in for_each/count";
    default:
      return change.action_reason ? change.action_reason : "destroy planned (terraform plan -destroy)";
  }
}
