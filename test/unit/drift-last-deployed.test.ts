/**
 * One refreshing plan told apart into drift and this commit's changes: each planned change is measured from
 * the object as last deployed, never from the refreshed one. The plans here have the shapes Terraform 1.11
 * gives `terraform show -json` of a refreshing plan (resource_drift before → refreshed, resource_changes
 * refreshed → configuration); the e2e tier checks the same against real plans of the real provider.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { lastDeployedResources, unappliedChanges } from "../../tools/drift/last-deployed";
import type { PlanJson, ResourceChangeJson } from "../../tools/lib/terraform-plan";

const APP = "databricks_app.app";
const SECRET = "databricks_secret.key";
const deployedApp = { name: "notes", description: "as deployed", compute_size: "MEDIUM", url: "https://a" };
const deployedSecret = { scope: "notes", key: "k", string_value: "v", id: "notes|||k" };

function change(address: string, actions: string[], before: unknown, after: unknown, extra = {}): ResourceChangeJson {
  const [type, name] = address.split(".");
  return { address, mode: "managed", type, name, change: { actions, before, after }, ...extra };
}

/** A refreshing plan: the state as refreshed, what the refresh found, what the plan does, and which attributes the configuration sets. */
function plan(
  refreshed: Record<string, Record<string, unknown>>,
  drift: ResourceChangeJson[],
  changes: ResourceChangeJson[],
): PlanJson {
  return {
    format_version: "1.2",
    resource_drift: drift,
    resource_changes: changes,
    prior_state: {
      values: {
        root_module: {
          resources: Object.entries(refreshed).map(([address, values]) => ({
            address,
            type: address.split(".")[0],
            values,
          })),
        },
      },
    },
    configuration: {
      root_module: {
        resources: [
          { address: APP, expressions: { name: {}, description: {}, compute_size: {} } },
          { address: SECRET, expressions: { scope: {}, key: {}, string_value: {} } },
        ],
      },
    },
  };
}

const byHand = { ...deployedApp, description: "edited by hand" };

test("a plan that only sets drift back changes nothing this commit changed", () => {
  const p = plan(
    { [APP]: byHand },
    [change(APP, ["update"], deployedApp, byHand)],
    [change(APP, ["update"], byHand, deployedApp)],
  );
  assert.deepEqual(unappliedChanges(p), []);
});

test("a drifted object this commit also changes: only the commit's attributes, from their deployed values", () => {
  const committed = { ...deployedApp, compute_size: "LARGE" };
  const p = plan(
    { [APP]: byHand },
    [change(APP, ["update"], deployedApp, byHand)],
    [change(APP, ["update"], byHand, committed)],
  );
  const [unapplied, ...rest] = unappliedChanges(p);
  assert.deepEqual(rest, []);
  assert.deepEqual(unapplied.change.actions, ["update"]);
  assert.deepEqual(unapplied.change.before, deployedApp, "measured from the object as deployed, not as found");
  assert.deepEqual(unapplied.change.after, committed);
});

test("changes to objects that did not drift are this commit's, as planned", () => {
  const planned = change(APP, ["update"], deployedApp, { ...deployedApp, compute_size: "LARGE" });
  assert.deepEqual(unappliedChanges(plan({ [APP]: deployedApp }, [], [planned])), [planned]);
});

test("bookkeeping the platform changed (an attribute the configuration does not set) is not this commit's change", () => {
  const refreshed = { ...deployedApp, url: "https://b" };
  const p = plan(
    { [APP]: refreshed },
    [change(APP, ["update"], deployedApp, refreshed)],
    [change(APP, ["update"], refreshed, { ...refreshed, description: "as deployed" })],
  );
  assert.deepEqual(unappliedChanges(p), []);
});

test("an object deleted out of band is created again: unapplied only where this commit changes it, as an update", () => {
  const deleted = change(SECRET, ["delete"], deployedSecret, null);
  const again = (values: object) =>
    change(SECRET, ["create"], null, values, {
      change: { actions: ["create"], before: null, after: values, after_unknown: { id: true } },
    });
  assert.deepEqual(unappliedChanges(plan({}, [deleted], [again({ scope: "notes", key: "k", string_value: "v" })])), []);

  const [unapplied] = unappliedChanges(plan({}, [deleted], [again({ scope: "notes", key: "k", string_value: "w" })]));
  assert.deepEqual(unapplied.change.actions, ["update"]);
  assert.deepEqual(unapplied.change.before, deployedSecret);
});

test("a replacement forced by a drifted attribute is not this commit's; one forced by the commit's attribute is", () => {
  const renamed = { ...deployedApp, name: "renamed by hand" };
  const drift = change(APP, ["update"], deployedApp, renamed);
  const replace = (after: object) =>
    change(APP, ["delete", "create"], renamed, after, {
      action_reason: "replace_because_cannot_update",
      change: { actions: ["delete", "create"], before: renamed, after, replace_paths: [["name"]] },
    });

  assert.deepEqual(unappliedChanges(plan({ [APP]: renamed }, [drift], [replace(deployedApp)])), []);

  const [update] = unappliedChanges(
    plan({ [APP]: renamed }, [drift], [replace({ ...deployedApp, compute_size: "LARGE" })]),
  );
  assert.deepEqual(update.change.actions, ["update"], "the commit only changes the size, which it can in place");
  assert.equal(update.action_reason, undefined);

  const [replacement] = unappliedChanges(
    plan({ [APP]: renamed }, [drift], [replace({ ...deployedApp, name: "next" })]),
  );
  assert.deepEqual(replacement.change.actions, ["delete", "create"]);
  assert.equal(replacement.action_reason, "replace_because_cannot_update");
});

test("an object deleted out of band and gone from this commit: this commit destroys it", () => {
  const deleted = change(SECRET, ["delete"], deployedSecret, null);
  assert.deepEqual(unappliedChanges(plan({}, [deleted], [])), [deleted]);
});

test("the resources as last deployed: drifted ones as they were before the refresh, deleted ones included", () => {
  const p = plan(
    { [APP]: byHand },
    [change(APP, ["update"], deployedApp, byHand), change(SECRET, ["delete"], deployedSecret, null)],
    [],
  );
  assert.deepEqual(
    lastDeployedResources(p).map((r) => [r.address, r.values]),
    [
      [APP, deployedApp],
      [SECRET, deployedSecret],
    ],
  );
});
