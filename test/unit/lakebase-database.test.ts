import { test } from "node:test";
import assert from "node:assert/strict";
import { LakebaseDatabase } from "../../stacks/lakebase/lakebase-database";
import { addressOf, environment, onlyResource, resources, synthConstruct, type TerraformJson } from "../support/synth";

const INSTANCE = "databricks_database_instance";
const CATALOG = "databricks_database_database_catalog";

function synthLakebase(preventDestroy?: boolean): TerraformJson {
  const config = environment({
    lakebase: {
      capacity: "CU_2",
      nodeCount: 2,
      retentionWindowInDays: 14,
      stopped: true,
      tags: { team: "notes", cost: "42" },
    },
  });
  return synthConstruct(
    (scope) =>
      new LakebaseDatabase(scope, "lakebase", {
        instance: config.lakebase,
        databaseName: "notes",
        catalogName: "notes_test",
        preventDestroy,
      }),
  );
}

/** The `input` of the one terraform_data whose change replaces the resource of `type`. */
function replacementTrigger(json: TerraformJson, type: string): Record<string, unknown> {
  const triggers: string[] = onlyResource(json, type).lifecycle?.replace_triggered_by ?? [];
  assert.equal(
    triggers.length,
    1,
    `${type}: expected one replace_triggered_by entry, found ${JSON.stringify(triggers)}`,
  );
  // A plain address: Terraform's JSON syntax rejects "${...}" in replace_triggered_by.
  const id = /^terraform_data\.([^.]+)$/.exec(triggers[0])?.[1];
  assert.ok(
    id && resources(json, "terraform_data")[id],
    `${type}: replace_triggered_by ${triggers[0]} is not a terraform_data of this stack`,
  );
  return resources(json, "terraform_data")[id].input;
}

test("the instance carries capacity, node count, retention, tags (as a sorted key/value list) and stopped", () => {
  const instance = onlyResource(synthLakebase(), INSTANCE);
  assert.equal(instance.name, "notes-test");
  assert.equal(instance.capacity, "CU_2");
  assert.equal(instance.node_count, 2);
  assert.equal(instance.retention_window_in_days, 14);
  assert.equal(instance.stopped, true);
  assert.deepEqual(instance.custom_tags, [
    { key: "cost", value: "42" },
    { key: "project", value: "notes" },
    { key: "team", value: "notes" },
  ]);
});

test("the catalog registers the database on the instance by reference to its name (instances have no id)", () => {
  const json = synthLakebase();
  const catalog = onlyResource(json, CATALOG);
  assert.equal(catalog.name, "notes_test");
  assert.equal(catalog.database_name, "notes");
  assert.equal(catalog.database_instance_name, `\${${addressOf(json, INSTANCE)}.name}`);
  assert.equal(catalog.create_database_if_not_exists, true);
});

test("any change to the catalog's inputs replaces it (its API has no update)", () => {
  const json = synthLakebase();
  const catalog = onlyResource(json, CATALOG);
  // Every field the catalog sets is among the trigger's inputs, with the same value.
  assert.deepEqual(replacementTrigger(json, CATALOG), {
    name: catalog.name,
    databaseName: catalog.database_name,
    databaseInstanceName: catalog.database_instance_name,
    createDatabaseIfNotExists: catalog.create_database_if_not_exists,
  });
});

test("renaming the instance replaces it instead of planning an in-place PATCH", () => {
  assert.deepEqual(replacementTrigger(synthLakebase(), INSTANCE), { name: "notes-test" });
});

test("preventDestroy protects the instance and the catalog; by default neither is protected", () => {
  for (const type of [INSTANCE, CATALOG]) {
    assert.equal(onlyResource(synthLakebase(true), type).lifecycle.prevent_destroy, true, type);
    assert.notEqual(onlyResource(synthLakebase(), type).lifecycle.prevent_destroy, true, type);
  }
});
