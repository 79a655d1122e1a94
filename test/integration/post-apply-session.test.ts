/**
 * Each migration starts from the same session state, whichever migrations ran before it in the same run,
 * and every wait of a migration statement has a bound: a lock another session (the app) holds, and the
 * statement's run time. Against a real PostgreSQL, with the app's lock held by a real second connection.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import {
  APP_ROLE,
  DEPLOYER,
  type PostApplyWorld,
  type RunResult,
  startPostApplyWorld,
} from "../../tools/lib/local/post-apply-world";

let world: PostApplyWorld;
/** A role the deployer may SET ROLE to, as a migration might. */
const OTHER_ROLE = "migration_owner";
before(async () => {
  world = await startPostApplyWorld();
  await world.postgres.query(
    `CREATE ROLE ${OTHER_ROLE} NOLOGIN; GRANT ${OTHER_ROLE} TO ${pg.escapeIdentifier(DEPLOYER)}`,
  );
});
after(() => world.stop());

/** The state a migration sees when it starts, recorded by its first statement. */
const RECORD = (
  name: string,
) => `INSERT INTO seen SELECT '${name}', current_user, current_setting('search_path'), current_setting('TimeZone'),
  current_setting('lock_timeout'), current_setting('statement_timeout'), current_setting('default_transaction_isolation'),
  to_regclass('pg_temp.notes') IS NOT NULL,
  (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid());\n`;

/** Each migration records the state it starts in, then changes as much of the session as a migration can. */
const MISCHIEF = `SET search_path TO public;
SET TimeZone = 'Asia/Tokyo';
SET lock_timeout = '1h';
SET statement_timeout = 0;
SET default_transaction_isolation = 'serializable';
CREATE TEMP TABLE notes (id int);
SET ROLE ${OTHER_ROLE};
`;

const MIGRATIONS: Record<string, string> = {
  "0001_seen.sql": `CREATE TABLE seen (migration text, role_name text, search_path text, time_zone text, lock_timeout text,
  statement_timeout text, isolation text, temp_notes boolean, advisory_locks int);\n${RECORD("0001")}${MISCHIEF}`,
  // Unqualified: lands in the app schema, not in the temporary table or public that 0001 pointed at.
  "0002_notes.sql": `${RECORD("0002")}CREATE TABLE notes (id int PRIMARY KEY);\n${MISCHIEF}`,
  // The last one leaves another role set: the history row, the grants and the verification run as the deployer all the same.
  "0003_more.sql": `${RECORD("0003")}CREATE TABLE more_notes (id int);\n${MISCHIEF}`,
};

const BOUNDS = { POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: "7", POST_APPLY_STATEMENT_TIMEOUT_SECONDS: "45" };

function migrationsDir(names: readonly string[]): string {
  const dir = world.migrations();
  for (const name of names) writeFileSync(join(dir, name), MIGRATIONS[name]);
  return dir;
}

async function seen(database: string): Promise<Record<string, unknown>[]> {
  return (await world.postgres.query("SELECT * FROM app.seen ORDER BY migration", [], database)).rows;
}

test("no session setting, role or temporary table of one migration reaches the next, nor the grants after the last", async () => {
  const database = await world.freshDatabase();
  const result = await world.run(["apply"], world.applyEnv(database, migrationsDir(Object.keys(MIGRATIONS)), BOUNDS));
  assert.equal(result.code, 0, result.stdout + result.stderr);

  const rows = await seen(database);
  assert.equal(rows.length, 3);
  const [first] = rows;
  assert.deepEqual(
    { ...first, migration: undefined, time_zone: undefined, isolation: undefined },
    {
      migration: undefined,
      role_name: DEPLOYER,
      search_path: "app",
      time_zone: undefined,
      lock_timeout: "7s",
      statement_timeout: "45s",
      isolation: undefined,
      temp_notes: false,
      advisory_locks: 1,
    },
    "the documented starting state; the runner's migration lock still held",
  );
  for (const row of rows.slice(1))
    assert.deepEqual({ ...row, migration: first.migration }, first, `${row.migration} starts as 0001 did`);

  const tables = await world.postgres.query<{ name: string; owner: string }>(
    "SELECT c.oid::regclass::text AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c WHERE c.relname IN ('notes', 'more_notes') AND c.relpersistence = 'p' ORDER BY 1",
    [],
    database,
  );
  assert.deepEqual(tables.rows, [
    { name: "app.more_notes", owner: DEPLOYER },
    { name: "app.notes", owner: DEPLOYER },
  ]);
  // Granted by the deployer (its default privileges), verified: the app role can write the new tables.
  const app = await world.connectAs(APP_ROLE, database);
  try {
    await app.query("INSERT INTO app.notes VALUES (1); INSERT INTO app.more_notes VALUES (1)");
  } finally {
    await app.end();
  }
});

test("migrations applied together or one run each give the same database", async () => {
  const together = await world.freshDatabase();
  assert.equal(
    (await world.run(["apply"], world.applyEnv(together, migrationsDir(Object.keys(MIGRATIONS)), BOUNDS))).code,
    0,
  );
  const apart = await world.freshDatabase();
  const names = Object.keys(MIGRATIONS);
  for (let n = 1; n <= names.length; n++) {
    const result = await world.run(["apply"], world.applyEnv(apart, migrationsDir(names.slice(0, n)), BOUNDS));
    assert.equal(result.code, 0, result.stderr);
  }
  // All but the database's name and the history's times.
  const comparable = (snapshot: unknown[]) =>
    snapshot.filter((row) => {
      const { kind, name } = row as { kind: string; name: string };
      return kind !== "database" && !(kind === "content" && name === "post_apply.applied_migrations");
    });
  assert.deepEqual(comparable(await world.snapshot(apart)), comparable(await world.snapshot(together)));
});

/** A database with the base fixtures applied; the app role then holds a lock on app.notes in an open transaction. */
async function appHoldingLock(): Promise<{ database: string; dir: string; app: pg.Client }> {
  const database = await world.freshDatabase();
  const dir = world.migrations("migrations");
  const first = await world.run(["apply"], world.applyEnv(database, dir));
  assert.equal(first.code, 0, first.stderr);
  writeFileSync(
    join(dir, "0003_add_pinned.sql"),
    "-- The app reads notes all the time.\nALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;\n",
  );
  const app = await world.connectAs(APP_ROLE, database);
  await app.query("BEGIN; SELECT count(*) FROM app.notes");
  return { database, dir, app };
}

async function columnExists(database: string): Promise<boolean> {
  const { rows } = await world.postgres.query(
    "SELECT 1 FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'notes' AND column_name = 'pinned'",
    [],
    database,
  );
  return rows.length > 0;
}

async function timedRun(env: NodeJS.ProcessEnv): Promise<RunResult & { seconds: number }> {
  const start = Date.now();
  const result = await world.run(["apply"], env);
  return { ...result, seconds: (Date.now() - start) / 1000 };
}

test("an ALTER TABLE waiting on a lock the app holds stops after statementLockTimeoutSeconds, naming the migration, and applies once the app lets go", async () => {
  const { database, dir, app } = await appHoldingLock();
  try {
    const blocked = await timedRun(world.applyEnv(database, dir, { POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: "1" }));
    assert.equal(blocked.code, 1, blocked.stdout + blocked.stderr);
    assert.match(
      blocked.stderr,
      /^post-apply failed at migrate: \S+\/0003_add_pinned\.sql:2:1: statement 1 of 1 failed: canceling statement due to lock timeout \(SQLSTATE 55P03\): it waited more than 1 s for a lock another session \(the app\?\) holds on what it changes \(postApply\.statementLockTimeoutSeconds\); run again when that session lets go, or raise the bound; the migration was rolled back\n$/,
    );
    assert.ok(blocked.seconds < 15, `bounded: took ${blocked.seconds} s`);
    assert.equal(await columnExists(database), false);
    // The app's transaction was never disturbed.
    assert.equal((await app.query("SELECT count(*)::int AS n FROM app.notes")).rows[0].n, 0);
  } finally {
    await app.query("COMMIT");
    await app.end();
  }
  const retried = await world.run(
    ["apply"],
    world.applyEnv(database, dir, { POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: "1" }),
  );
  assert.equal(retried.code, 0, retried.stderr);
  assert.equal(await columnExists(database), true);
});

test("a lock the app releases within the bound is waited for, and the migration applies", async () => {
  const { database, dir, app } = await appHoldingLock();
  const release = setTimeout(() => void app.query("COMMIT").then(() => app.end()), 1_500);
  try {
    const result = await timedRun(world.applyEnv(database, dir, { POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: "30" }));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await columnExists(database), true);
  } finally {
    clearTimeout(release);
  }
});

test("a statement running longer than statementTimeoutSeconds stops, naming the migration, also while it waits for a lock", async () => {
  const database = await world.freshDatabase();
  const dir = world.migrations("migrations");
  writeFileSync(
    join(dir, "0003_backfill.sql"),
    "CREATE TABLE backfill (id int);\nINSERT INTO backfill SELECT 1 FROM pg_sleep(30);\n",
  );
  const slow = await timedRun(world.applyEnv(database, dir, { POST_APPLY_STATEMENT_TIMEOUT_SECONDS: "1" }));
  assert.equal(slow.code, 1, slow.stdout + slow.stderr);
  assert.match(
    slow.stderr,
    /^post-apply failed at migrate: \S+\/0003_backfill\.sql:2:1: statement 2 of 2 failed: canceling statement due to statement timeout \(SQLSTATE 57014\): it ran for more than 1 s \(postApply\.statementTimeoutSeconds\); raise the bound if it needs longer; the migration was rolled back\n$/,
  );
  assert.ok(slow.seconds < 15, `bounded: took ${slow.seconds} s`);
  assert.equal(
    (await world.postgres.query("SELECT to_regclass('app.backfill') AS t", [], database)).rows[0].t,
    null,
    "rolled back",
  );

  const { database: locked, dir: lockedDir, app } = await appHoldingLock();
  try {
    const waiting = await world.run(
      ["apply"],
      world.applyEnv(locked, lockedDir, {
        POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: "60",
        POST_APPLY_STATEMENT_TIMEOUT_SECONDS: "1",
      }),
    );
    assert.equal(waiting.code, 1);
    assert.match(
      waiting.stderr,
      /0003_add_pinned\.sql:2:1: statement 1 of 1 failed: canceling statement due to statement timeout \(SQLSTATE 57014\): it ran for more than 1 s/,
    );
  } finally {
    await app.end();
  }
});
