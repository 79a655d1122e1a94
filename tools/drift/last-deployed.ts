/**
 * One refreshing plan read twice. Its `resource_drift` is what changed outside Terraform (last deployed →
 * refreshed); its `resource_changes` go from the refreshed objects to this commit, so they mix two things:
 * setting drift back, and this commit's own changes. The latter — unapplied code — is each change measured
 * from the object as last deployed instead (`resource_drift`'s `before` where the object drifted, else the
 * state as the plan read it), in the attributes the configuration sets: what a second plan against the
 * state as last applied (`-refresh=false`) shows, without starting Terraform and the provider again.
 */
import {
  actionOf,
  attributeChanges,
  configuredAttributes,
  type PlanJson,
  priorResources,
  type ResourceChangeJson,
  type StateResource,
  topAttribute,
} from "../lib/terraform-plan";

/** The resources as last deployed: the state before the refresh (objects deleted out of band included). */
export function lastDeployedResources(plan: PlanJson): StateResource[] {
  const drifted = new Map((plan.resource_drift ?? []).map((d) => [d.address, d]));
  const prior = priorResources(plan);
  const kept = prior.map((r) => {
    const before = drifted.get(r.address)?.change.before;
    return isValues(before) ? { ...r, values: before } : r;
  });
  const deleted = [...drifted.values()].flatMap((d) =>
    isValues(d.change.before) && !prior.some((r) => r.address === d.address)
      ? [{ address: d.address, type: d.type, values: d.change.before }]
      : [],
  );
  return [...kept, ...deleted];
}

/** This commit's changes since the last deploy, each measured from the object as last deployed. */
export function unappliedChanges(plan: PlanJson): ResourceChangeJson[] {
  const drifted = new Map((plan.resource_drift ?? []).map((d) => [d.address, d]));
  const configured = configuredAttributes(plan);
  const changes: ResourceChangeJson[] = [];
  for (const change of plan.resource_changes ?? []) {
    const action = actionOf(change.change.actions);
    const drift = drifted.get(change.address);
    if (!action || !drift) {
      if (action) changes.push(change);
      continue;
    }
    const asDeployed = {
      ...change.change,
      before: drift.change.before,
      before_sensitive: drift.change.before_sensitive,
    };
    const forcing = change.change.replace_paths ?? [];
    // Destroys stand, and so do replacements for a reason that is no attribute (taint, triggers, -replace).
    if (action === "destroy" || (action === "replace" && forcing.length === 0)) {
      changes.push({ ...change, change: asDeployed });
      continue;
    }
    const differences = attributeChanges(asDeployed, configured(change.address));
    if (!differences.length) continue; // the plan only sets the drift back
    const changed = new Set(differences.map((d) => topAttribute(d.path)));
    changes.push(
      action === "replace" && forcing.some((path) => changed.has(String(path[0])))
        ? { ...change, change: asDeployed }
        : {
            ...change,
            action_reason: undefined,
            // From the last deploy this is an update: the plan creates the object again only because it was
            // deleted out of band, or replaces it only because a drifted attribute forces that.
            change: { ...asDeployed, actions: ["update"], replace_paths: undefined },
          },
    );
  }
  // Deleted out of band and gone from this commit: the refreshing plan has nothing left to destroy.
  const planned = new Set((plan.resource_changes ?? []).map((c) => c.address));
  for (const drift of drifted.values()) {
    if (actionOf(drift.change.actions) === "destroy" && !planned.has(drift.address)) changes.push(drift);
  }
  return changes;
}

function isValues(value: unknown): value is Readonly<Record<string, unknown>> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
