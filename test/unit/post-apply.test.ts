import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AppStack } from "../../stacks/app-stack";
import { Testing } from "../../stacks/cdktf";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { contentHash } from "../../stacks/content-hash";
import { migrationsSha256 } from "../../stacks/post-apply/migrations";
import { migrationFiles } from "../../tools/lib/migration-folder";
import { POST_APPLY_COMMAND } from "../../tools/lib/post-apply-inputs";
import {
  addressOf,
  type Attributes,
  environment,
  FIXTURE_SOURCE_DIR,
  resources,
  synthStack,
  type TerraformJson,
} from "../support/synth";

const MIGRATIONS = join(FIXTURE_SOURCE_DIR, "migrations");

/** The post-apply terraform_data: the one whose provisioner runs the runner's `apply`. */
function postApply(json: TerraformJson): Attributes {
  const found = Object.values(resources(json, "terraform_data")).filter((r) =>
    r.provisioner?.[0]["local-exec"].command.endsWith(" apply"),
  );
  assert.equal(
    found.length,
    1,
    `expected one terraform_data running the runner's apply:\n${JSON.stringify(resources(json, "terraform_data"), null, 2)}`,
  );
  return found[0];
}

const localExec = (json: TerraformJson) => postApply(json).provisioner[0]["local-exec"];

test("migrationFiles lists the migrations in order (the README beside them is not one); migrationsSha256 hashes their names and contents", () => {
  const names = ["0001_init.sql", "0002_add_created.sql"];
  assert.deepEqual(
    migrationFiles(MIGRATIONS).map((f) => f.name),
    names,
  );
  assert.equal(
    migrationsSha256(MIGRATIONS),
    contentHash(names.map((name) => ({ path: name, content: readFileSync(join(MIGRATIONS, name)) }))),
  );
});

test("a missing migrations directory has no migrations and the hash of nothing", () => {
  assert.deepEqual(migrationFiles("/nonexistent/migrations"), []);
  assert.equal(migrationsSha256("/nonexistent/migrations"), createHash("sha256").digest("hex"));
});

test("the migrations hash changes with a file's content and with its name", () => {
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  try {
    writeFileSync(join(dir, "0001_a.sql"), "SELECT 1;");
    const first = migrationsSha256(dir);
    writeFileSync(join(dir, "0001_a.sql"), "SELECT 2;");
    const edited = migrationsSha256(dir);
    rmSync(join(dir, "0001_a.sql"));
    writeFileSync(join(dir, "0001_b.sql"), "SELECT 2;");
    assert.equal(new Set([first, edited, migrationsSha256(dir)]).size, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the step re-runs when its inputs change: migrations, grants, the app's service principal, the database coordinates", () => {
  const { json } = synthStack(environment());
  const app = addressOf(json, "databricks_app");
  assert.deepEqual(postApply(json).triggers_replace, {
    migrations_sha256: migrationsSha256(MIGRATIONS),
    grants_sha256: createHash("sha256")
      .update(JSON.stringify({ schema: "app", appAccess: "readWrite", readOnlyRoles: [] }))
      .digest("hex"),
    app_sp_client_id: `\${${app}.service_principal_client_id}`,
    instance_name: `\${${addressOf(json, "databricks_database_instance")}.name}`,
    database_name: `\${${addressOf(json, "databricks_database_database_catalog")}.database_name}`,
    schema: "app",
  });
});

test("the grants hash follows schema, app access and read-only roles, not the roles' order", () => {
  const grants = (database: object) =>
    postApply(synthStack(environment({ database })).json).triggers_replace.grants_sha256;
  const base = grants({ readOnlyRoles: ["analysts", "auditors"] });
  assert.equal(grants({ readOnlyRoles: ["auditors", "analysts"] }), base);
  assert.notEqual(grants({ readOnlyRoles: ["analysts"] }), base);
  assert.notEqual(grants({ readOnlyRoles: ["analysts", "auditors"], appAccess: "readOnly" }), base);
  assert.notEqual(grants({ readOnlyRoles: ["analysts", "auditors"], schema: "notes" }), base);
});

test("the step runs after the app, the catalog and the instance exist", () => {
  const { json } = synthStack(environment());
  const dependsOn: string[] = postApply(json).depends_on;
  for (const type of ["databricks_app", "databricks_database_database_catalog", "databricks_database_instance"]) {
    assert.ok(dependsOn.includes(addressOf(json, type)), `depends_on lacks ${type}: ${dependsOn}`);
  }
});

// What the environment holds, and that the runner reads it back: test/unit/post-apply-contract.test.ts.
test("local-exec runs the runner's apply from the repository root", () => {
  const exec = localExec(synthStack(environment()).json);
  assert.equal(exec.command, POST_APPLY_COMMAND);
  assert.equal(exec.working_dir, "../../..");
});

test("no secret reaches the command or its environment", () => {
  const canary = "canary-0b7e4a-post-apply";
  process.env.TF_VAR_secret_api_key = canary;
  try {
    const { json } = synthStack(environment());
    const exec = localExec(json);
    const text = JSON.stringify(exec);
    assert.equal(text.includes(canary), false);
    // Secret values only exist as variables and databricks_secret resources; neither is passed on.
    assert.doesNotMatch(text, /\$\{var\.|databricks_secret/);
    // Credentials are inherited from the process running Terraform, never set here.
    assert.deepEqual(
      Object.keys(exec.environment).filter((k) => !k.startsWith("POST_APPLY_")),
      [],
    );
  } finally {
    delete process.env.TF_VAR_secret_api_key;
  }
});

test("the workspace chosen in the YAML reaches the runner too, without any credential", () => {
  const { json } = synthStack(
    environment({ workspace: { host: "https://adb-1.azuredatabricks.net", profile: "notes-ci" } }),
  );
  const env = localExec(json).environment;
  assert.equal(env.DATABRICKS_HOST, "https://adb-1.azuredatabricks.net");
  assert.equal(env.DATABRICKS_CONFIG_PROFILE, "notes-ci");
  assert.deepEqual(
    Object.keys(env)
      .filter((k) => k.startsWith("DATABRICKS_"))
      .sort(),
    ["DATABRICKS_CONFIG_PROFILE", "DATABRICKS_HOST"],
  );
});

test("working_dir is computed from the app's output directory", () => {
  const outdir = mkdtempSync(join(tmpdir(), "outdir-"));
  try {
    const stack = new AppStack(Testing.app({ outdir: join(outdir, "out") }), "test", {
      config: environment(),
      sourceDir: FIXTURE_SOURCE_DIR,
    });
    const exec = localExec(JSON.parse(Testing.synth(stack)));
    assert.equal(resolve(outdir, "out", "stacks", "test", exec.working_dir), REPO_ROOT);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
