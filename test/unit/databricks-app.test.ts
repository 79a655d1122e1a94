import { test } from "node:test";
import assert from "node:assert/strict";
import { DatabricksApp } from "../../stacks/app/databricks-app";
import { nagSuppressions } from "../../stacks/guardrails/nag-pack";
import { addressOf, environment, onlyResource, resources, synthConstruct, synthStack } from "../support/synth";

const APP = "databricks_app";

test("an app that binds nothing has no resources attribute at all (provider bug TFP #5204 on [])", () => {
  const app = onlyResource(
    synthConstruct((scope) => new DatabricksApp(scope, "app", { name: "notes-test" })),
    APP,
  );
  assert.equal("resources" in app, false, `resources must be omitted, found ${JSON.stringify(app.resources)}`);
  assert.equal(
    "user_api_scopes" in app,
    false,
    `user_api_scopes must be omitted, found ${JSON.stringify(app.user_api_scopes)}`,
  );
});

test('description is always set, even when empty (the API returns "" for none)', () => {
  const app = onlyResource(
    synthConstruct((scope) => new DatabricksApp(scope, "app", { name: "notes-test" })),
    APP,
  );
  assert.equal(app.description, "");
  assert.equal(app.compute_size, "MEDIUM");

  const { json } = synthStack(environment({ app: { description: "" } }));
  assert.equal(onlyResource(json, APP).description, "");
});

test("every kind of binding, under its resource key and with its permission, in a stable order", () => {
  const config = environment({
    app: {
      computeSize: "LARGE",
      userApiScopes: ["sql", "files.files"],
      sqlWarehouses: [{ resourceName: "warehouse", id: "abc123" }],
      jobs: [{ resourceName: "nightly", id: "42", permission: "CAN_VIEW" }],
    },
    servingEndpoints: [{ resourceName: "llm", name: "llm-endpoint", permission: "CAN_VIEW" }],
  });
  const { json } = synthStack(config);
  const app = onlyResource(json, APP);
  assert.equal(app.name, "notes-test");
  assert.equal(app.compute_size, "LARGE");
  assert.deepEqual(app.user_api_scopes, ["sql", "files.files"]);
  assert.deepEqual(app.resources, [
    {
      name: "database",
      database: {
        instance_name: `\${${addressOf(json, "databricks_database_instance")}.name}`,
        database_name: `\${${addressOf(json, "databricks_database_database_catalog")}.database_name}`,
        permission: "CAN_CONNECT_AND_CREATE",
      },
    },
    {
      name: "api-key",
      secret: { scope: `\${${addressOf(json, "databricks_secret_scope")}.name}`, key: "api-key", permission: "READ" },
    },
    { name: "llm", serving_endpoint: { name: "llm-endpoint", permission: "CAN_VIEW" } },
    { name: "warehouse", sql_warehouse: { id: "abc123", permission: "CAN_USE" } },
    { name: "nightly", job: { id: "42", permission: "CAN_VIEW" } },
  ]);
});

test("the database binding uses the configured resource key", () => {
  const { json } = synthStack(environment({ app: { databaseResourceName: "notes-db" } }));
  assert.equal(onlyResource(json, APP).resources[0].name, "notes-db");
});

test("the app waits for the catalog (which creates the database) and for the secrets it binds", () => {
  const { json } = synthStack();
  const dependsOn: string[] = onlyResource(json, APP).depends_on;
  assert.ok(dependsOn.includes(addressOf(json, "databricks_database_database_catalog")), `depends_on: ${dependsOn}`);
  for (const id of Object.keys(resources(json, "databricks_secret"))) {
    assert.ok(dependsOn.includes(`databricks_secret.${id}`), `depends_on lacks databricks_secret.${id}: ${dependsOn}`);
  }
});

test("renaming the app keeps its address, so Terraform replaces it (name is RequiresReplace in the provider)", () => {
  const before = synthStack(environment()).json;
  const after = synthStack(environment({ app: { name: "notes-test-2" } })).json;
  assert.equal(addressOf(after, APP), addressOf(before, APP));
  assert.equal(onlyResource(after, APP).name, "notes-test-2");
});

test("secret bindings without a scope are refused", () => {
  assert.throws(
    () =>
      synthConstruct(
        (scope) =>
          new DatabricksApp(scope, "app", {
            name: "notes-test",
            secrets: [{ resourceName: "k", key: "api-key", permission: "READ" }],
          }),
      ),
    /app "notes-test": secret bindings \(api-key\) need a secretScope, found none/,
  );
});

test("the stack records a CAN_MANAGE serving endpoint with a reason as a suppression on the app resource; without one it does not", () => {
  const { stack } = synthStack(
    environment({
      servingEndpoints: [
        {
          resourceName: "tuner",
          name: "tuning-endpoint",
          permission: "CAN_MANAGE",
          reason: "the app updates the endpoint's traffic split",
        },
        { resourceName: "llm", name: "llm-endpoint" },
      ],
    }),
  );
  const app = stack.node.findChild("app") as DatabricksApp;
  assert.deepEqual(nagSuppressions(app.resource), [
    {
      id: "DBX-ServingEndpointLeastPrivilege",
      appliesTo: "tuner",
      reason: "the app updates the endpoint's traffic split",
    },
  ]);
});
