import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AppStack } from "../../stacks/app-stack";
import { Testing } from "../../stacks/cdktf";
import { REPO_ROOT } from "../../stacks/repo-paths";
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

test("migrationFiles lists the migrations in order; the README beside them is not one", () => {
  assert.deepEqual(
    migrationFiles(MIGRATIONS).map((f) => f.name),
    ["0001_init.sql", "0002_add_created.sql"],
  );
});

test("a missing migrations directory has no migrations, and hashes like an empty one", () => {
  assert.deepEqual(migrationFiles("/nonexistent/migrations"), []);
  const empty = mkdtempSync(join(tmpdir(), "migrations-"));
  try {
    assert.equal(migrationsSha256("/nonexistent/migrations"), migrationsSha256(empty));
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("the migrations hash changes with a file's content and with its name", () => {
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  try {
    writeFileSync(join(dir, "0001_a.sql"), "SELECT 1;");
    const first = migrationsSha256(dir);
    writeFileSync(join(dir, "0001_a.sql"), "SELECT 2;");
    const edited = migrationsSha256(dir);
    writeFileSync(join(dir, "README.md"), "not a migration");
    assert.equal(migrationsSha256(dir), edited, "a file that is not a migration changed the hash");
    rmSync(join(dir, "0001_a.sql"));
    writeFileSync(join(dir, "0001_b.sql"), "SELECT 2;");
    assert.equal(new Set([first, edited, migrationsSha256(dir)]).size, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the step re-runs when its inputs change: migrations, grants, the app's service principal, the database coordinates", () => {
  const { json } = synthStack(environment());
  const triggers = postApply(json).triggers_replace;
  assert.deepEqual(Object.keys(triggers).sort(), [
    "app_sp_client_id",
    "database_name",
    "grants_sha256",
    "instance_name",
    "migrations_sha256",
    "schema",
  ]);
  assert.equal(triggers.app_sp_client_id, `\${${addressOf(json, "databricks_app")}.service_principal_client_id}`);
  assert.equal(triggers.instance_name, `\${${addressOf(json, "databricks_database_instance")}.name}`);
  assert.equal(triggers.database_name, `\${${addressOf(json, "databricks_database_database_catalog")}.database_name}`);
  assert.equal(triggers.schema, "app");
  // The hashes are compared, not recomputed here: each follows its own input (migrations below, grants next).
  const source = mkdtempSync(join(tmpdir(), "app-src-"));
  try {
    cpSync(FIXTURE_SOURCE_DIR, source, { recursive: true });
    const synthFrom = () =>
      postApply(
        JSON.parse(Testing.synth(new AppStack(Testing.app(), "test", { config: environment(), sourceDir: source }))),
      ).triggers_replace;
    assert.deepEqual(synthFrom(), triggers, "another copy of the same source");
    writeFileSync(join(source, "migrations", "0003_more.sql"), "SELECT 1;\n");
    const { migrations_sha256, ...others } = synthFrom();
    assert.notEqual(migrations_sha256, triggers.migrations_sha256, "a new migration did not change migrations_sha256");
    assert.deepEqual(
      Object.entries(others).filter(([key, value]) => triggers[key] !== value),
      [],
      "a new migration changed another trigger",
    );
  } finally {
    rmSync(source, { recursive: true, force: true });
  }
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
