/**
 * Every failure a user can meet gets one line naming the step and what to fix, exit code 1 and no stack
 * trace, and no run ever prints a credential (the fake's tokens are canaries).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { migrationLockKey } from "../../tools/post-apply/migration-lock";
import { startFakeDatabricks } from "../../tools/lib/local/fake-databricks";
import {
  DATABASE_TOKEN,
  DEPLOYER,
  INSTANCE,
  type PostApplyWorld,
  type RunResult,
  startPostApplyWorld,
  WORKSPACE_TOKEN,
} from "../../tools/lib/local/post-apply-world";

const CLIENT_ID = "ci-service-principal";
const CLIENT_SECRET = "canary-oauth-client-secret-93d2";

let world: PostApplyWorld;
let database: string;
let migrations: string;
before(async () => {
  world = await startPostApplyWorld({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    instances: {
      [INSTANCE]: { states: ["AVAILABLE"], readWriteDns: "127.0.0.1" },
      "stuck-instance": { states: ["UPDATING"], readWriteDns: "127.0.0.1" },
      "starting-instance": { states: ["STARTING", "AVAILABLE"], readWriteDns: "127.0.0.1" },
    },
  });
  database = "notes";
  await world.createDatabase(database);
  migrations = world.migrations("migrations");
});
after(() => world.stop());

/** Runs the runner and checks what every run must satisfy: no credential in its output, no stack trace. */
async function run(env: NodeJS.ProcessEnv, args: readonly string[] = ["apply"]): Promise<RunResult> {
  const result = await world.run(args, env);
  for (const secret of [WORKSPACE_TOKEN, DATABASE_TOKEN, CLIENT_SECRET]) {
    assert.ok(
      !result.stdout.includes(secret) && !result.stderr.includes(secret),
      `a credential leaked into the output:\n${result.stdout}${result.stderr}`,
    );
  }
  assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  return result;
}

function env(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return world.applyEnv(database, migrations, overrides);
}

function assertFails(result: RunResult, message: RegExp): void {
  assert.equal(result.code, 1, `expected exit 1\n${result.stdout}${result.stderr}`);
  assert.match(result.stderr.trimEnd(), message);
  assert.equal(result.stderr.trimEnd().split("\n").length, 1, `one line:\n${result.stderr}`);
}

test("wrong or expired workspace credentials (401)", async () => {
  assertFails(
    await run(env({ DATABRICKS_TOKEN: "dapi-expired" })),
    /^post-apply failed at identity: the workspace rejected the credentials \(HTTP 401: Invalid access token\.\); check DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID\/DATABRICKS_CLIENT_SECRET or the profile/,
  );
});

test("a deployer not allowed to mint database credentials (403)", async () => {
  const denying = await startFakeDatabricks({
    token: WORKSPACE_TOKEN,
    userName: DEPLOYER,
    databaseToken: DATABASE_TOKEN,
    instances: { [INSTANCE]: { states: ["AVAILABLE"], readWriteDns: "127.0.0.1" } },
    denyCredentials: true,
  });
  try {
    assertFails(
      await run(env({ DATABRICKS_HOST: denying.host })),
      /^post-apply failed at credential: the deployer is not allowed to mint a database credential for instance "notes-test" \(HTTP 403: User does not have CAN_USE on the database instance\.\)$/,
    );
  } finally {
    await denying.stop();
  }
});

test("an instance that does not exist (404)", async () => {
  assertFails(
    await run(env({ POST_APPLY_INSTANCE: "no-such-instance" })),
    /^post-apply failed at instance: Lakebase instance "no-such-instance" not found in this workspace \(HTTP 404\)$/,
  );
});

test("an instance that stays not AVAILABLE longer than the instance timeout", async () => {
  const result = await run(env({ POST_APPLY_INSTANCE: "stuck-instance", POST_APPLY_INSTANCE_TIMEOUT_SECONDS: "1" }));
  assertFails(
    result,
    /^post-apply failed at instance: Lakebase instance "stuck-instance" is still UPDATING, not AVAILABLE, after 1 s \(instance timeout\)$/,
  );
  assert.match(result.stdout, /instance +"stuck-instance" is UPDATING; waiting up to 1 s for AVAILABLE/);
});

test("an instance that becomes AVAILABLE while the runner waits", async () => {
  const result = await run(env({ POST_APPLY_INSTANCE: "starting-instance" }));
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    /"starting-instance" is STARTING; waiting up to 30 s for AVAILABLE\n +instance +"starting-instance" is AVAILABLE\n/,
  );
});

test("an unreachable database", async () => {
  const port = await closedPort();
  assertFails(
    await run(env({ POST_APPLY_PG_PORT: String(port) })),
    new RegExp(
      `^post-apply failed at connect: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} \\(database "notes"\\): connect ECONNREFUSED`,
    ),
  );
});

test("TLS is required unless the test-only override turns it off", async () => {
  assertFails(
    await run(env({ POST_APPLY_INSECURE_NO_TLS: undefined })),
    /^post-apply failed at connect: PostgreSQL at 127\.0\.0\.1:\d+ \(database "notes"\) does not offer TLS, which is required$/,
  );
});

test("a database that rejects the deployer's credential, and one that does not exist", async () => {
  await world.postgres.query(`ALTER ROLE "${DEPLOYER}" PASSWORD 'not-the-minted-token'`);
  try {
    assertFails(
      await run(env()),
      /^post-apply failed at connect: PostgreSQL at 127\.0\.0\.1:\d+ \(database "notes"\) rejected the login of role "deployer@example\.com" with the database credential: password authentication failed for user "deployer@example\.com" \(SQLSTATE 28P01\)$/,
    );
  } finally {
    await world.postgres.query(`ALTER ROLE "${DEPLOYER}" PASSWORD ${pg.escapeLiteral(DATABASE_TOKEN)}`);
  }
  assertFails(
    await run(env({ POST_APPLY_DATABASE: "no_such_database" })),
    /^post-apply failed at connect: database "no_such_database" does not exist on the instance/,
  );
});

test("the migration lock held by another runner longer than the lock timeout", async () => {
  const holder = new pg.Client({ ...world.postgres.clientConfig({ database }), application_name: "the other runner" });
  await holder.connect();
  try {
    await holder.query("SELECT pg_advisory_lock($1, $2)", [...migrationLockKey("app")]);
    const result = await run(env({ POST_APPLY_LOCK_TIMEOUT_SECONDS: "1" }));
    assertFails(
      result,
      /^post-apply failed at lock: another post-apply runner has held the migration lock of schema "app" for more than 1 s \(lock timeout\): held by process \d+ \(role postgres, application "the other runner"(, connected since \S+)?\); let it finish or stop it, then run again$/,
    );
    assert.match(result.stdout, /lock +another runner holds the migration lock; waiting up to 1 s\n/);
  } finally {
    await holder.end();
  }
});

test("authentication: OAuth M2M client credentials, a ~/.databrickscfg profile, and none at all", async () => {
  const fake = world.fake;
  const m2m = await run(
    env({ DATABRICKS_TOKEN: undefined, DATABRICKS_CLIENT_ID: CLIENT_ID, DATABRICKS_CLIENT_SECRET: CLIENT_SECRET }),
  );
  assert.equal(m2m.code, 0, m2m.stderr);
  const tokenRequest = fake.requests.findLast((r) => r.path === "/oidc/v1/token");
  assert.ok(tokenRequest && new URLSearchParams(tokenRequest.body).get("grant_type") === "client_credentials");

  const badSecret = await run(
    env({ DATABRICKS_TOKEN: undefined, DATABRICKS_CLIENT_ID: CLIENT_ID, DATABRICKS_CLIENT_SECRET: "wrong" }),
  );
  assertFails(
    badSecret,
    /^post-apply failed at identity: the workspace rejected the OAuth client credentials \(.*invalid_client.*\); check DATABRICKS_CLIENT_ID\/DATABRICKS_CLIENT_SECRET$/,
  );

  const home = join(env().HOME!, "profile-home");
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, ".databrickscfg"),
    `[DEFAULT]\nhost = http://127.0.0.1:9\ntoken = unused\n\n[ci]\nhost = ${fake.host}\ntoken = ${WORKSPACE_TOKEN}\n`,
  );
  const profile = await run(
    env({ HOME: home, DATABRICKS_HOST: undefined, DATABRICKS_TOKEN: undefined, DATABRICKS_CONFIG_PROFILE: "ci" }),
  );
  assert.equal(profile.code, 0, profile.stderr);

  assertFails(
    await run(env({ DATABRICKS_HOST: undefined, DATABRICKS_TOKEN: undefined })),
    /^post-apply failed at identity: no usable Databricks credentials/,
  );
});

test("bad migration files are reported with file, line and column, and leave nothing behind", async () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "names",
      {
        "1_first.sql": "SELECT 1;",
        "0001_a.sql": "SELECT 1;",
        "0001_b.sql": "SELECT 1;",
        "0002_x.down.sql": "SELECT 1;",
      },
      /^post-apply failed at migrations: 3 problems:\n( {2}\S+(1_first|0002_x\.down)\.sql: an unexpected file name; expected a regular file named like 0001_create_notes\.sql \(4 digits, .*\n){2} {2}\S+0001_b\.sql: number 0001 is already used by 0001_a\.sql\n$/,
    ],
    [
      "gap",
      { "0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;" },
      /^post-apply failed at migrations: \S+0003_c\.sql: expected number 0002 \(migrations are numbered consecutively from 0001\)\n$/,
    ],
    [
      "syntax",
      {
        "0001_a.sql":
          "CREATE TABLE ok (id int);\n\n-- the next statement is broken 💥\nCREATE TABLE broken (id int,);\n",
      },
      /^post-apply failed at migrations: \S+0001_a\.sql:4:29: syntax error at or near "\)"; nothing was applied\n$/,
    ],
    [
      "transaction control",
      { "0001_a.sql": "CREATE TABLE ok (id int);\nCOMMIT;\nCREATE TABLE later (id int);\n" },
      /^post-apply failed at migrations: \S+0001_a\.sql:2:1: "COMMIT" is not allowed: each migration already runs in its own transaction; nothing was applied\n$/,
    ],
    [
      "runtime error in the first migration of a fresh database",
      { "0001_a.sql": "CREATE TABLE a (id int);\nINSERT INTO a /* 💥 */ VALUES ('one');\n" },
      /^post-apply failed at migrate: \S+0001_a\.sql:2:31: statement 2 of 2 failed: invalid input syntax for type integer: "one" \(SQLSTATE 22P02\); the migration was rolled back\n$/,
    ],
    [
      "empty",
      { "0001_a.sql": "-- nothing yet\n" },
      /^post-apply failed at migrations: \S+0001_a\.sql: contains no SQL statement\n$/,
    ],
  ];
  for (const [name, files, message] of cases) {
    const dir = world.migrations();
    for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, file), sql);
    const target = `bad_${name.split(" ")[0]}`;
    await world.createDatabase(target);
    const result = await run(world.applyEnv(target, dir));
    assert.equal(result.code, 1, name);
    assert.match(result.stderr, message, name);
    const { rows } = await world.postgres.query("SELECT 1 FROM pg_namespace WHERE nspname = 'app'", [], target);
    assert.equal(rows.length, 0, `${name}: nothing created`);
  }
});

test("bad inputs and arguments", async () => {
  assertFails(
    await run(
      env({ POST_APPLY_SCHEMA: undefined, POST_APPLY_APP_ACCESS: "admin", POST_APPLY_LOCK_TIMEOUT_SECONDS: "soon" }),
    ),
    /^post-apply failed at inputs: POST_APPLY_SCHEMA is not set; POST_APPLY_APP_ACCESS: expected one of "readWrite"\|"readOnly", found "admin"; POST_APPLY_LOCK_TIMEOUT_SECONDS: expected number, received NaN, found "soon"$/,
  );
  assertFails(
    await run(env({ POST_APPLY_READ_ONLY_ROLES: env().POST_APPLY_APP_SP_CLIENT_ID })),
    /^post-apply failed at inputs: the app role "[^"]+" is also listed as a read-only role/,
  );

  const noArgs = await run(env(), []);
  assert.equal(noArgs.code, 1);
  assert.match(noArgs.stderr, /^post-apply: expected an environment name, apply or release \(--help for usage\)\n$/);
  const unknownOption = await run(env(), ["apply", "--force"]);
  assert.equal(unknownOption.code, 1);
  assert.match(unknownOption.stderr, /Unknown option '--force'/);
  const help = await run(env(), ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: /);
});

test("the statement bounds are required whole seconds that PostgreSQL accepts", async () => {
  assertFails(
    await run(
      env({ POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: undefined, POST_APPLY_STATEMENT_TIMEOUT_SECONDS: "2147484" }),
    ),
    /^post-apply failed at inputs: POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS is not set; POST_APPLY_STATEMENT_TIMEOUT_SECONDS: Too big: expected number to be <=2147483, found "2147484"$/,
  );
  assertFails(
    await run(env({ POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: "0", POST_APPLY_STATEMENT_TIMEOUT_SECONDS: "1.5" })),
    /^post-apply failed at inputs: POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: Too small: expected number to be >0, found "0"; POST_APPLY_STATEMENT_TIMEOUT_SECONDS: expected int, received number, found "1\.5"$/,
  );
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
