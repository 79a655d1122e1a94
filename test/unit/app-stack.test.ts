import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppStack } from "../../stacks/app-stack";
import { App, TerraformStack, Testing } from "../../stacks/cdktf";
import { environmentNames, environmentsDir, loadEnvironments } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { errorAnnotations } from "../../stacks/guardrails/nag-pack";
import { addressOf, environment, onlyResource, resources, synthStack, type TerraformJson } from "../support/synth";

test("the provider takes host and profile from workspace, and nothing when it is not set", () => {
  const configured = synthStack(
    environment({ workspace: { host: "https://example.cloud.databricks.com", profile: "notes" } }),
  ).json;
  assert.deepEqual(configured.provider?.databricks, [
    { host: "https://example.cloud.databricks.com", profile: "notes" },
  ]);
  assert.deepEqual(synthStack(environment()).json.provider?.databricks, [{}]);
});

test("outputs: app URL, service principal client id, instance read/write DNS, database name, source path", () => {
  const { json } = synthStack(environment());
  const app = addressOf(json, "databricks_app");
  const values = Object.fromEntries(Object.entries(json.output ?? {}).map(([name, o]) => [name, o.value]));
  assert.deepEqual(values, {
    app_url: `\${${app}.url}`,
    app_service_principal_client_id: `\${${app}.service_principal_client_id}`,
    instance_read_write_dns: `\${${addressOf(json, "databricks_database_instance")}.read_write_dns}`,
    database_name: `\${${addressOf(json, "databricks_database_database_catalog")}.database_name}`,
    source_code_path: "/Workspace/Shared/apps/notes-test",
  });
});

test("an environment without a secrets section has no scope, secrets or variables", () => {
  const { json } = synthStack(environment({ secrets: null, app: { secrets: [] } }));
  assert.deepEqual(resources(json, "databricks_secret_scope"), {});
  assert.deepEqual(resources(json, "databricks_secret"), {});
  assert.equal(json.variable, undefined);
  assert.equal(
    onlyResource(json, "databricks_app").resources.some((r: { secret?: unknown }) => r.secret),
    false,
  );
});

/** The shipped environments, synthesized with the shipped app source. */
function realStacks(): Map<string, { config: EnvironmentConfig; json: TerraformJson; violations: string[] }> {
  const app = Testing.app({ outdir: join(REPO_ROOT, "cdktf.out") });
  return new Map(
    loadEnvironments().map((config) => {
      const stack = new AppStack(app, config.name, { config });
      return [
        config.name,
        { config, json: JSON.parse(Testing.synth(stack)) as TerraformJson, violations: errorAnnotations(stack) },
      ];
    }),
  );
}

test("no environment references another: cdktf's preparing pass, which AppStack skips, would change nothing", (t) => {
  // What cdktf's own TerraformStack does to prepare: resolve everything once, adding cross-stack references.
  class PreparedByCdktf extends AppStack {
    override prepareStack(): void {
      TerraformStack.prototype.prepareStack.call(this);
    }
  }
  const parent = mkdtempSync(join(tmpdir(), "prepare-"));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const synthesized = (Stack: typeof AppStack) => {
    const outdir = mkdtempSync(join(parent, "out-")); // siblings: the same relative paths to the repository
    const app = new App({ outdir });
    for (const config of loadEnvironments()) new Stack(app, config.name, { config });
    app.synth();
    return readdirSync(join(outdir, "stacks")).map((name) =>
      readFileSync(join(outdir, "stacks", name, "cdk.tf.json"), "utf8"),
    );
  };
  assert.deepEqual(synthesized(AppStack), synthesized(PreparedByCdktf));
});

test("the shipped environments synthesize every expected resource type and pass the guardrails", () => {
  const stacks = realStacks();
  assert.deepEqual([...stacks.keys()], environmentNames(environmentsDir()));
  const expected = [
    "databricks_app",
    "databricks_database_database_catalog",
    "databricks_database_instance",
    "databricks_directory",
    "databricks_permissions",
    "databricks_secret",
    "databricks_secret_scope",
    "terraform_data",
  ];
  for (const [name, { config, json, violations }] of stacks) {
    assert.deepEqual(Object.keys(json.resource ?? {}).sort(), expected, name);
    assert.deepEqual(violations, [], name);
    assert.equal(onlyResource(json, "databricks_app").name, config.app.name);
    // Both permission objects: the app and the Lakebase instance.
    const permissions = Object.values(json.resource!.databricks_permissions) as Record<string, unknown>[];
    assert.deepEqual(
      permissions
        .map((p) => ("app_name" in p ? "app_name" : "database_instance_name" in p ? "database_instance_name" : "?"))
        .sort(),
      ["app_name", "database_instance_name"],
      name,
    );
    // The app binds its database, its secret and its serving endpoint.
    const bindings = (onlyResource(json, "databricks_app").resources as Record<string, unknown>[])
      .map((r) => Object.keys(r).find((k) => k !== "name"))
      .sort();
    assert.deepEqual(bindings, ["database", "secret", "serving_endpoint"], name);
  }
});

test("production environments protect the instance and the catalog from destruction; the others do not", () => {
  for (const [name, { config, json }] of realStacks()) {
    for (const type of ["databricks_database_instance", "databricks_database_database_catalog"]) {
      assert.equal(onlyResource(json, type).lifecycle.prevent_destroy === true, config.production, `${name} ${type}`);
    }
  }
});
