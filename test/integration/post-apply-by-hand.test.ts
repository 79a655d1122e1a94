/**
 * `npm run migrate -- <env> [--dry-run]`: the same run, its inputs taken from the environment's YAML and
 * the app's service principal looked up in the workspace.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  APP_NAME,
  APP_ROLE,
  INSTANCE,
  type PostApplyWorld,
  READER_ROLE,
  startPostApplyWorld,
} from "../../tools/lib/local/post-apply-world";

let world: PostApplyWorld;
let environments: string;
before(async () => {
  world = await startPostApplyWorld();
  await world.createDatabase("notes_by_hand");
  environments = mkdtempSync(join(tmpdir(), "environments-"));
  writeFileSync(
    join(environments, "local.yaml"),
    [
      "workspace:",
      `  host: ${world.fake.host}`,
      "app:",
      `  name: ${APP_NAME}`,
      "lakebase:",
      `  instanceName: ${INSTANCE}`,
      "database:",
      "  name: notes_by_hand",
      "  catalog: notes_local",
      `  readOnlyRoles: [${READER_ROLE}]`,
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(environments, "gone.yaml"),
    [
      "workspace:",
      `  host: ${world.fake.host}`,
      "app:",
      "  name: notes-gone",
      "lakebase:",
      "  instanceName: notes-gone",
      "database:",
      "  name: notes_by_hand",
      "  catalog: notes_gone",
      "",
    ].join("\n"),
  );
});
after(async () => {
  await world.stop();
  rmSync(environments, { recursive: true, force: true });
});

/** Credentials and the test-only connection overrides; the rest comes from the YAML. */
function byHandEnv(): NodeJS.ProcessEnv {
  const { PATH, HOME, DATABRICKS_TOKEN, POST_APPLY_INSECURE_NO_TLS, POST_APPLY_PG_PORT } = world.applyEnv(
    "unused",
    "unused",
  );
  return {
    PATH,
    HOME,
    DATABRICKS_TOKEN,
    POST_APPLY_INSECURE_NO_TLS,
    POST_APPLY_PG_PORT,
    STACK_ENVIRONMENTS_DIR: environments,
    POST_APPLY_MIGRATIONS_DIR: world.migrations("migrations"),
  };
}

test("an unknown environment gets the configuration error listing the known ones, exit 1", async () => {
  const result = await world.run(["nope"], byHandEnv());
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^post-apply: invalid environment configuration \(1 problem\):\n {2}\S+: unknown environment "nope"; known environments: gone, local\n$/,
  );
});

test("--dry-run looks the app's service principal up, lists what it would do and changes nothing", async () => {
  const before = await world.snapshot("notes_by_hand");
  const result = await world.run(["local", "--dry-run"], byHandEnv());

  assert.equal(result.code, 2, result.stderr);
  assert.ok(world.fake.requests.some((r) => r.method === "GET" && r.path === `/api/2.0/apps/${APP_NAME}`));
  assert.match(result.stdout, /would apply +0001_create_notes\.sql\n +would apply +0002_create_tags\.sql\n/);
  assert.match(
    result.stdout,
    new RegExp(`would grant +GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "app" TO "${APP_ROLE}"\n`),
  );
  assert.deepEqual(await world.snapshot("notes_by_hand"), before);
});

test("a run by hand applies and grants like the one after terraform apply", async () => {
  const result = await world.run(["local"], byHandEnv());
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    new RegExp(`verify +"${APP_ROLE}" has readWrite, "${READER_ROLE}" has readOnly on schema "app"`),
  );
  const app = await world.connectAs(APP_ROLE, "notes_by_hand");
  try {
    await app.query("INSERT INTO app.notes (author, body) VALUES ('ann', 'by hand')");
  } finally {
    await app.end();
  }
});

test("an app that does not exist yet", async () => {
  const result = await world.run(["gone"], byHandEnv());
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    'post-apply failed at app: app "notes-gone" not found in this workspace (HTTP 404): deploy the stack first\n',
  );
});
