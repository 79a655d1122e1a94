/**
 * The post-apply runner end to end, as a deploy runs it, against the maintained Databricks API emulator
 * (not a hand-written fake): the emulator creates the instance (a real PostgreSQL of its own), the database
 * (via the catalog) and the app's service-principal role the way the platform does; the runner then
 * authenticates with the usual Databricks environment variables, mints a database credential, migrates and grants.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { loadEnvironments } from "../../stacks/config/load-environments";
import { MIGRATIONS_DIR } from "../../stacks/repo-paths";
import { migrationFiles } from "../../tools/lib/migration-folder";
import { deployThroughEmulator, type Emulator, startEmulator } from "../../tools/lib/local/emulator";
import { runToolAgainst } from "../support/emulator";
import type { PostgresAccess } from "../../tools/lib/local/postgres";

const [dev] = loadEnvironments({ only: ["dev"] });
let emulator: Emulator;
/** The dev instance's PostgreSQL, as its superuser. */
let postgres: PostgresAccess;
let appRole: string;

before(async () => {
  emulator = await startEmulator();
  appRole = await deployThroughEmulator(emulator, dev);
  postgres = await emulator.instancePostgres(dev.lakebase.instanceName);
});

after(async () => {
  await emulator?.stop();
});

function runner(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runToolAgainst(emulator, "tools/post-apply/main.ts", args, env);
}

/** Runs SQL as the app's service principal (the emulator creates its role without a password; give it one). */
async function asAppRole<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  await postgres.query(`ALTER ROLE "${appRole}" PASSWORD 'app-role-test-password'`);
  const client = new pg.Client(
    postgres.clientConfig({ database: dev.database.name, user: appRole, password: "app-role-test-password" }),
  );
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

test("npm run migrate -- dev applies every migration and grants the app role, through the emulator", () => {
  const { status, output } = runner(["dev"]);
  assert.equal(status, 0, output);
  const files = migrationFiles(MIGRATIONS_DIR);
  assert.ok(files.length > 0);
  for (const { name } of files) assert.ok(output.includes(name), `${name} not reported:\n${output}`);
});

test("the app's service principal can use the tables the deployer created", async () => {
  await asAppRole(async (client) => {
    await client.query("INSERT INTO app.notes (author_email, body) VALUES ('a@example.com', 'hello')");
    const { rows } = await client.query("SELECT body FROM app.notes WHERE author_email = 'a@example.com'");
    assert.deepEqual(
      rows.map((r) => r.body),
      ["hello"],
    );
    await assert.rejects(client.query("DROP TABLE app.notes"), /must be owner/);
  });
});

test("Terraform's entry point (apply, POST_APPLY_* inputs) finds nothing left to do", async () => {
  const before = await postgres.query(
    "SELECT count(*)::int AS n FROM post_apply.applied_migrations",
    [],
    dev.database.name,
  );
  const { status, output } = runner(["apply"], {
    POST_APPLY_INSTANCE: dev.lakebase.instanceName,
    POST_APPLY_DATABASE: dev.database.name,
    POST_APPLY_SCHEMA: dev.database.schema,
    POST_APPLY_APP_SP_CLIENT_ID: appRole,
    POST_APPLY_MIGRATIONS_DIR: "app-src/migrations",
    POST_APPLY_APP_ACCESS: dev.database.appAccess,
    POST_APPLY_READ_ONLY_ROLES: "",
    POST_APPLY_CONFIG_FILE: "environments/dev.yaml",
    POST_APPLY_INSTANCE_TIMEOUT_SECONDS: "30",
    POST_APPLY_LOCK_TIMEOUT_SECONDS: "30",
    POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: "10",
    POST_APPLY_STATEMENT_TIMEOUT_SECONDS: "60",
  });
  assert.equal(status, 0, output);
  const afterRun = await postgres.query(
    "SELECT count(*)::int AS n FROM post_apply.applied_migrations",
    [],
    dev.database.name,
  );
  assert.equal(afterRun.rows[0].n, before.rows[0].n);
});

test("a revoked grant is found and restored by the next run", async () => {
  await postgres.query(`REVOKE INSERT ON app.notes FROM "${appRole}"`, [], dev.database.name);
  const dry = runner(["dev", "--dry-run"]);
  assert.equal(dry.status, 2, dry.output);
  assert.match(dry.output, /INSERT/);
  const { status, output } = runner(["dev"]);
  assert.equal(status, 0, output);
  await asAppRole((client) =>
    client.query("INSERT INTO app.notes (author_email, body) VALUES ('b@example.com', 'again')"),
  );
});

test("a wrong workspace token fails at authentication with one clear line", () => {
  const { status, output } = runner(["dev"], { DATABRICKS_TOKEN: "not-the-token" });
  assert.equal(status, 1);
  assert.match(output, /post-apply failed at .*(401|credential|authenticat|token)/i);
  assert.doesNotMatch(output, /\n\s+at .*\(.*:\d+:\d+\)/, "a stack trace was printed");
});
