/**
 * Migrations that would lie: a file the runner cannot read faithfully (a NUL byte, bytes that are not UTF-8)
 * or an entry it would have skipped (wrong case, a symbolic link, a directory) stops the run before the
 * database is touched, with one line naming the file and, for contents, the position.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type PostApplyWorld, type RunResult, startPostApplyWorld } from "../../tools/lib/local/post-apply-world";

let world: PostApplyWorld;
before(async () => {
  world = await startPostApplyWorld();
});
after(() => world.stop());

function assertOneLineFailure(result: RunResult, message: RegExp): void {
  assert.equal(result.code, 1, `expected exit 1\n${result.stdout}${result.stderr}`);
  assert.match(result.stderr, message);
  assert.equal(result.stderr.trimEnd().split("\n").length, 1, `one line:\n${result.stderr}`);
}

async function schemaExists(database: string): Promise<boolean> {
  return (await world.postgres.query("SELECT 1 FROM pg_namespace WHERE nspname = 'app'", [], database)).rows.length > 0;
}

async function applied(database: string): Promise<string[]> {
  const { rows } = await world.postgres.query<{ name: string }>(
    "SELECT name FROM post_apply.applied_migrations ORDER BY name",
    [],
    database,
  );
  return rows.map((r) => r.name);
}

test("a NUL byte, which used to drop every statement after it and report success, fails the run at its position", async () => {
  const database = await world.freshDatabase();
  const dir = world.migrations();
  writeFileSync(join(dir, "0001_a.sql"), "CREATE TABLE a (id int);\n\0CREATE TABLE b (id int);\n");
  assertOneLineFailure(
    await world.run(["apply"], world.applyEnv(database, dir)),
    /^post-apply failed at migrations: \S+\/0001_a\.sql:2:1: NUL byte at byte offset 25; PostgreSQL would ignore everything after it\n$/,
  );
  assert.equal(await schemaExists(database), false, "nothing was applied, not even the statement before the NUL");
  // A dry run reads the files the same way.
  assertOneLineFailure(
    await world.run(["apply", "--dry-run"], world.applyEnv(database, dir)),
    /^post-apply failed at migrations: \S+0001_a\.sql:2:1: NUL byte/,
  );
});

test("a NUL byte in a new migration leaves the applied ones as they were and applies nothing", async () => {
  const database = await world.freshDatabase();
  const dir = world.migrations("migrations");
  assert.equal((await world.run(["apply"], world.applyEnv(database, dir))).code, 0);
  writeFileSync(
    join(dir, "0003_more.sql"),
    "CREATE TABLE more_a (id int);\n-- Grüße\0\nCREATE TABLE more_b (id int);\n",
  );
  assertOneLineFailure(
    await world.run(["apply"], world.applyEnv(database, dir)),
    /^post-apply failed at migrations: \S+0003_more\.sql:2:9: NUL byte at byte offset 40;/,
  );
  assert.deepEqual(await applied(database), ["0001_create_notes.sql", "0002_create_tags.sql"]);
  assert.equal((await world.postgres.query("SELECT to_regclass('app.more_a') AS t", [], database)).rows[0].t, null);
});

test("a migration that is not UTF-8 (a Latin-1 export) fails at its first bad byte", async () => {
  const database = await world.freshDatabase();
  const dir = world.migrations();
  writeFileSync(
    join(dir, "0001_a.sql"),
    Buffer.from("CREATE TABLE a (name text);\nINSERT INTO a VALUES ('Gr\xfc\xdfe');\n", "latin1"),
  );
  assertOneLineFailure(
    await world.run(["apply"], world.applyEnv(database, dir)),
    /^post-apply failed at migrations: \S+0001_a\.sql:2:26: invalid UTF-8 \(byte 0xfc at byte offset 53\); migrations must be UTF-8 text\n$/,
  );
  assert.equal(await schemaExists(database), false);
});

test("an entry the runner used to skip without a word is an error naming it, and nothing is applied", async () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    [
      "upper-case extension",
      (dir) => writeFileSync(join(dir, "0002_b.SQL"), "CREATE TABLE b (id int);"),
      /\/0002_b\.SQL: an unexpected file name; expected a regular file named like 0001_create_notes\.sql/,
    ],
    [
      "symbolic link",
      (dir) => symlinkSync(join(dir, "0001_a.sql"), join(dir, "0002_b.sql")),
      /\/0002_b\.sql: a symbolic link; expected a regular file/,
    ],
    [
      "directory named like a migration",
      (dir) => mkdirSync(join(dir, "0002_b.sql")),
      /\/0002_b\.sql: a directory; expected a regular file/,
    ],
    [
      "backup copy",
      (dir) => writeFileSync(join(dir, "0001_a.sql~"), "CREATE TABLE a (id int);"),
      /\/0001_a\.sql~: an unexpected file name; expected/,
    ],
  ];
  for (const [name, add, message] of cases) {
    const database = await world.freshDatabase();
    const dir = world.migrations();
    writeFileSync(join(dir, "0001_a.sql"), "CREATE TABLE a (id int);");
    add(dir);
    const result = await world.run(["apply"], world.applyEnv(database, dir));
    assertOneLineFailure(result, new RegExp(`^post-apply failed at migrations: \\S+${message.source}`));
    assert.equal(await schemaExists(database), false, `${name}: nothing applied`);
  }
});

test("a README beside the migrations is allowed and is not a migration", async () => {
  const database = await world.freshDatabase();
  const dir = world.migrations("migrations");
  writeFileSync(join(dir, "README.md"), "# How to write a migration\n");
  const result = await world.run(["apply"], world.applyEnv(database, dir));
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /files +2 migrations\n/);
  assert.deepEqual(await applied(database), ["0001_create_notes.sql", "0002_create_tags.sql"]);
});
