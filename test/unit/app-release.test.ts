/**
 * The release step: a terraform_data whose local-exec deploys the uploaded source to the app, after the
 * source upload and the post-apply step, re-run exactly when what the app runs changes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppStack } from "../../stacks/app-stack";
import { RELEASE_COMMAND } from "../../tools/lib/post-apply-inputs";
import { Testing } from "../../stacks/cdktf";
import {
  addressOf,
  type Attributes,
  environment,
  FIXTURE_SOURCE_DIR,
  resources,
  synthStack,
  type TerraformJson,
} from "../support/synth";

function release(json: TerraformJson): Attributes {
  const found = Object.entries(resources(json, "terraform_data")).filter(([address]) => address.startsWith("release"));
  assert.equal(
    found.length,
    1,
    `expected one release terraform_data, found: ${Object.keys(resources(json, "terraform_data"))}`,
  );
  return found[0][1];
}

function trigger(overrides: object, sourceDir = FIXTURE_SOURCE_DIR): Attributes {
  const stack = new AppStack(Testing.app(), "test", { config: environment(overrides), sourceDir });
  return release(JSON.parse(Testing.synth(stack))).triggers_replace;
}

// What its environment holds, and that the runner reads it back: test/unit/post-apply-contract.test.ts.
test("the release runs the runner's release command from the repository root", () => {
  const exec = release(synthStack(environment()).json).provisioner[0]["local-exec"];
  assert.equal(exec.command, RELEASE_COMMAND);
  assert.equal(exec.working_dir, "../../..");
});

test("the release comes after the source directory exists and after migrations and grants", () => {
  const { json } = synthStack(environment());
  const dependsOn: string[] = release(json).depends_on;
  assert.ok(dependsOn.includes(addressOf(json, "databricks_directory")), `${dependsOn}`);
  assert.ok(
    dependsOn.some((d) => d.startsWith("terraform_data.post-apply")),
    `${dependsOn}`,
  );
});

test("what the app runs re-triggers the release: its bindings, size, scopes, migrations, source and service principal", () => {
  const base = trigger({});
  assert.match(base.app_sp_client_id, /service_principal_client_id/);
  for (const change of [
    { app: { computeSize: "LARGE" } },
    { app: { userApiScopes: ["sql"] } },
    { servingEndpoints: [{ resourceName: "llm", name: "other-endpoint" }] },
    { app: { secrets: [{ resourceName: "api-key", key: "api-key", permission: "MANAGE" }] } },
    { database: { name: "notes2" } },
  ]) {
    assert.notEqual(trigger(change).runs_sha256, base.runs_sha256, JSON.stringify(change));
  }
});

test("a change the app does not run (description, permissions, tags) does not re-trigger the release", () => {
  const base = trigger({}).runs_sha256;
  assert.equal(trigger({ app: { description: "something else" } }).runs_sha256, base);
  assert.equal(trigger({ permissions: { app: [{ group: "others", level: "CAN_USE" }] } }).runs_sha256, base);
  assert.equal(trigger({ lakebase: { tags: { team: "x" } } }).runs_sha256, base);
});

test("app.env is listed in the triggers (a review shows it) and re-triggers the release", () => {
  const settings = trigger({ app: { env: { LOG_LEVEL: "debug" } } });
  assert.deepEqual(settings.app_env, { LOG_LEVEL: "debug" });
  assert.notEqual(settings.runs_sha256, trigger({}).runs_sha256);
  assert.notEqual(settings.source_sha256, trigger({}).source_sha256);
});

test("an edited source file or a new migration re-triggers the release", () => {
  const dir = mkdtempSync(join(tmpdir(), "release-src-"));
  try {
    cpSync(FIXTURE_SOURCE_DIR, dir, { recursive: true });
    const base = trigger({}, dir).runs_sha256;
    writeFileSync(join(dir, "app.yaml"), "command: [node, changed.js]\n");
    const edited = trigger({}, dir).runs_sha256;
    writeFileSync(join(dir, "migrations", "0003_more.sql"), "CREATE TABLE more (id int);\n");
    const migrated = trigger({}, dir).runs_sha256;
    assert.equal(new Set([base, edited, migrated]).size, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
