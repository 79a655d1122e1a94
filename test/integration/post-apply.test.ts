/**
 * The post-apply runner against a real PostgreSQL: migrations, grants and their verification, re-runs,
 * failures that must leave the database as it was. Each test gets a database of its own.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, cpSync, existsSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { REPO_ROOT } from "../../stacks/repo-paths";
import {
  APP_ROLE,
  FIXTURES,
  type PostApplyWorld,
  READER_ROLE,
  startPostApplyWorld,
} from "../../tools/lib/local/post-apply-world";

let world: PostApplyWorld;
before(async () => {
  world = await startPostApplyWorld();
});
after(() => world.stop());

function freshDatabase(): Promise<string> {
  return world.freshDatabase();
}

/** A new database the runner has migrated with the base fixtures, and the directory it took them from. */
async function migratedDatabase(): Promise<{ database: string; dir: string }> {
  const database = await freshDatabase();
  const dir = world.migrations("migrations");
  const first = await world.run(["apply"], world.applyEnv(database, dir));
  assert.equal(first.code, 0, first.stderr);
  return { database, dir };
}

async function as<T>(role: string, database: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await world.connectAs(role, database);
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function appliedMigrations(database: string): Promise<string[]> {
  const { rows } = await world.postgres.query<{ name: string }>(
    "SELECT name FROM post_apply.applied_migrations ORDER BY name",
    [],
    database,
  );
  return rows.map((r) => r.name);
}

test("a fresh database gets every migration, and the app role can use the tables but neither drop them nor create objects", async () => {
  const database = await freshDatabase();
  const result = await world.run(["apply"], world.applyEnv(database, world.migrations("migrations")));

  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /migrate +0001_create_notes\.sql/);
  assert.match(result.stdout, /migrate +0002_create_tags\.sql/);
  assert.deepEqual(await appliedMigrations(database), ["0001_create_notes.sql", "0002_create_tags.sql"]);
  const { rows: owners } = await world.postgres.query<{ owner: string }>(
    "SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'app'",
    [],
    database,
  );
  assert.deepEqual(
    owners,
    [{ owner: "deployer@example.com" }],
    "the runner creates the app schema, owned by the deployer",
  );

  await as(APP_ROLE, database, async (app) => {
    const { rows } = await app.query<{ id: string }>(
      "INSERT INTO app.notes (author, body) VALUES ('ann', 'hello') RETURNING id",
    );
    const tag = await app.query<{ id: number }>("INSERT INTO app.tags (name) VALUES ('Work') RETURNING id");
    await app.query("INSERT INTO app.note_tags VALUES ($1, $2)", [rows[0].id, tag.rows[0].id]);
    await app.query("UPDATE app.notes SET body = 'hello, world' WHERE id = $1", [rows[0].id]);
    assert.deepEqual((await app.query("SELECT body, tag FROM app.tagged_notes")).rows, [
      { body: "hello, world", tag: "work" },
    ]);
    await app.query("SELECT nextval('app.notes_id_seq'), currval('app.notes_id_seq')");
    await app.query("DELETE FROM app.notes");
    const history = await app.query("SELECT name FROM post_apply.applied_migrations");
    assert.equal(history.rowCount, 2, "the app may read the migration history (for its readiness check)");
    await assert.rejects(app.query("DELETE FROM post_apply.applied_migrations"), { code: "42501" });

    for (const sql of [
      "DROP TABLE app.notes",
      "ALTER TABLE app.notes ADD COLUMN x int",
      "TRUNCATE app.notes",
      "CREATE TABLE app.mine (id int)",
      "CREATE TABLE public.mine (id int)",
    ]) {
      await assert.rejects(app.query(sql), { code: "42501" }, `the app role must not be able to: ${sql}`);
    }
  });

  await as(READER_ROLE, database, async (reader) => {
    await reader.query("SELECT * FROM app.notes");
    await assert.rejects(reader.query("INSERT INTO app.notes (author, body) VALUES ('x', 'y')"), { code: "42501" });
  });
});

test("a second run applies nothing and changes nothing", async () => {
  const { database, dir } = await migratedDatabase();
  const before = await world.snapshot(database);

  const second = await world.run(["apply"], world.applyEnv(database, dir));

  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /2 applied before, 0 pending/);
  assert.doesNotMatch(second.stdout, /migrate |grant /);
  assert.match(second.stdout, /done +nothing to do/);
  assert.deepEqual(await world.snapshot(database), before);
});

test("a table created by a later migration is usable by the app role without a grant run", async () => {
  const { database } = await migratedDatabase();

  const later = await world.run(
    ["apply"],
    world.applyEnv(database, world.migrations("migrations", "migrations-later")),
  );

  assert.equal(later.code, 0, later.stderr);
  assert.match(later.stdout, /migrate +0003_create_reactions\.sql/);
  assert.doesNotMatch(
    later.stdout,
    /grant /,
    "the deployer's default privileges already cover the new table and its sequence",
  );
  await as(APP_ROLE, database, async (app) => {
    const { rows } = await app.query<{ id: string }>(
      "INSERT INTO app.notes (author, body) VALUES ('bo', 'hi') RETURNING id",
    );
    await app.query("INSERT INTO app.reactions (note_id, emoji) VALUES ($1, '👍')", [rows[0].id]);
    await app.query("UPDATE app.notes SET reaction_count = 1");
    assert.equal((await app.query("DELETE FROM app.reactions")).rowCount, 1);
  });
});

test("a migration failing half-way leaves the database as it was and names the file and line; the fixed file then applies", async () => {
  const { database } = await migratedDatabase();
  const before = await world.snapshot(database);

  const failed = await world.run(
    ["apply"],
    world.applyEnv(database, world.migrations("migrations", "migrations-failing")),
  );

  assert.equal(failed.code, 1);
  assert.match(
    failed.stderr,
    /^post-apply failed at migrate: \S*0003_create_reactions\.sql:10:\d+: statement 3 of 3 failed: column r\.kind does not exist \(SQLSTATE 42703\); hint: .*; the migration was rolled back\n$/,
  );
  assert.doesNotMatch(failed.stderr, /\n\s+at /, "no stack trace");
  assert.deepEqual(await world.snapshot(database), before);

  const fixed = await world.run(
    ["apply"],
    world.applyEnv(database, world.migrations("migrations", "migrations-later")),
  );
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.deepEqual(await appliedMigrations(database), [
    "0001_create_notes.sql",
    "0002_create_tags.sql",
    "0003_create_reactions.sql",
  ]);
});

test("an applied migration edited afterwards is refused and nothing is applied", async () => {
  const { database, dir } = await migratedDatabase();
  appendFileSync(join(dir, "0002_create_tags.sql"), "\nALTER TABLE tags ADD COLUMN colour text;\n");
  cpSync(join(FIXTURES, "migrations-later", "0003_create_reactions.sql"), join(dir, "0003_create_reactions.sql"));
  const before = await world.snapshot(database);

  const edited = await world.run(["apply"], world.applyEnv(database, dir));

  assert.equal(edited.code, 1);
  assert.match(
    edited.stderr,
    /^post-apply failed at migrations: nothing was applied: \S*0002_create_tags\.sql was changed after it was applied at \S+ \(sha256 then [0-9a-f]{12}…, now [0-9a-f]{12}…\); migrations are forward-only/,
  );
  assert.deepEqual(await world.snapshot(database), before);
});

test("switching the app to readOnly takes its write privileges away, and back", async () => {
  const { database, dir } = await migratedDatabase();

  const readOnly = await world.run(["apply"], world.applyEnv(database, dir, { POST_APPLY_APP_ACCESS: "readOnly" }));

  assert.equal(readOnly.code, 0, readOnly.stderr);
  assert.match(readOnly.stdout, new RegExp(`grant +readOnly to "${APP_ROLE}"`));
  await as(APP_ROLE, database, async (app) => {
    await app.query("SELECT * FROM app.notes");
    await assert.rejects(app.query("INSERT INTO app.notes (author, body) VALUES ('x', 'y')"), { code: "42501" });
    await assert.rejects(app.query("SELECT setval('app.notes_id_seq', 5)"), { code: "42501" });
  });
  const { rows } = await world.postgres.query<{ privilege: string }>(
    `SELECT a.privilege_type AS privilege FROM pg_default_acl d, aclexplode(d.defaclacl) a
      WHERE d.defaclobjtype = 'r' AND d.defaclnamespace = 'app'::regnamespace AND a.grantee = $1::regrole`,
    [`"${APP_ROLE}"`],
    database,
  );
  assert.deepEqual(rows, [{ privilege: "SELECT" }], "tables created later: SELECT only");

  assert.equal((await world.run(["apply"], world.applyEnv(database, dir))).code, 0);
  await as(APP_ROLE, database, (app) => app.query("INSERT INTO app.notes (author, body) VALUES ('x', 'y')"));
});

test("access the runner cannot fix fails verification with the role, the privilege problem and the object", async () => {
  const { database, dir } = await migratedDatabase();
  await world.postgres.query(`ALTER TABLE app.tags OWNER TO "${APP_ROLE}"`, [], database);

  const owner = await world.run(["apply"], world.applyEnv(database, dir));

  assert.equal(owner.code, 1);
  assert.equal(
    owner.stderr,
    `post-apply failed at verify: 2 problems:\n` +
      `  role "${APP_ROLE}" owns sequence app.tags_id_seq\n  role "${APP_ROLE}" owns table app.tags\n`,
  );
});

test("a read-only role the workspace does not know fails before anything is granted, naming the file and field", async () => {
  const { database, dir } = await migratedDatabase();
  const before = await world.snapshot(database);

  const run = await world.run(
    ["apply"],
    world.applyEnv(database, dir, { POST_APPLY_READ_ONLY_ROLES: `${READER_ROLE},ghost-role` }),
  );

  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^post-apply failed at roles: environments\/test\.yaml: database\.readOnlyRoles\[1\]: the workspace does not know group "ghost-role" \(HTTP 404: [^\n]+\)\n$/,
  );
  assert.deepEqual(await world.snapshot(database), before);
});

test("a privilege removed by hand is granted again and verified", async () => {
  const { database, dir } = await migratedDatabase();
  await world.postgres.query(
    `REVOKE INSERT ON app.notes FROM "${APP_ROLE}"; GRANT TRUNCATE ON app.tags TO "${APP_ROLE}"`,
    [],
    database,
  );

  const dryRun = await world.run(["apply", "--dry-run"], world.applyEnv(database, dir));
  assert.equal(dryRun.code, 2, dryRun.stderr);
  assert.match(dryRun.stdout, new RegExp(`access +role "${APP_ROLE}" lacks INSERT on table app\\.notes\n`));
  assert.match(
    dryRun.stdout,
    new RegExp(`access +role "${APP_ROLE}" has TRUNCATE on table app\\.tags, beyond its access level\n`),
  );

  const repaired = await world.run(["apply"], world.applyEnv(database, dir));
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.match(repaired.stdout, /grant +readWrite/);
  await as(APP_ROLE, database, async (app) => {
    await app.query("INSERT INTO app.notes (author, body) VALUES ('x', 'y')");
    await assert.rejects(app.query("TRUNCATE app.tags"), { code: "42501" });
  });
});

test("a dry run lists pending migrations and the grants it would run, changes nothing and exits 2; 0 once in sync", async () => {
  const database = await freshDatabase();
  const env = world.applyEnv(database, world.migrations("migrations"));
  const before = await world.snapshot(database);

  const dryRun = await world.run(["apply", "--dry-run"], env);

  assert.equal(dryRun.code, 2, dryRun.stderr);
  assert.match(dryRun.stdout, /would apply +0001_create_notes\.sql\n +would apply +0002_create_tags\.sql\n/);
  assert.match(dryRun.stdout, /access +schema app does not exist\n/);
  assert.match(dryRun.stdout, new RegExp(`would grant +GRANT USAGE ON SCHEMA "app" TO "${APP_ROLE}"\n`));
  assert.match(
    dryRun.stdout,
    new RegExp(
      `would grant +ALTER DEFAULT PRIVILEGES FOR ROLE "deployer@example.com" IN SCHEMA "app" GRANT SELECT ON TABLES TO "${READER_ROLE}"\n`,
    ),
  );
  assert.deepEqual(await world.snapshot(database), before);

  assert.equal((await world.run(["apply"], env)).code, 0);
  const inSync = await world.run(["apply", "--dry-run"], env);
  assert.equal(inSync.code, 0, inSync.stderr);
  assert.match(inSync.stdout, /migrations +none pending\n +access +as configured\n/);
});

const APP_MIGRATIONS = join(REPO_ROOT, "app-src", "migrations");
test("the app's own migrations apply to a fresh database and verify", {
  skip: !existsSync(APP_MIGRATIONS) && "app-src/migrations does not exist yet",
}, async () => {
  const database = await freshDatabase();
  const result = await world.run(["apply"], world.applyEnv(database, APP_MIGRATIONS));
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /verify +/);
});
