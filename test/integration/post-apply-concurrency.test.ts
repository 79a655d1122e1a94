/**
 * Terraform can run post-apply for several stacks sharing a database, and people run it by hand while CI
 * does: runners started at once must serialise on the migration lock and apply every migration once.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type PostApplyWorld, startPostApplyWorld } from "../../tools/lib/local/post-apply-world";

let world: PostApplyWorld;
before(async () => {
  world = await startPostApplyWorld();
});
after(() => world.stop());

test("five runners started at once apply every migration exactly once", async () => {
  await world.createDatabase("notes");
  const dir = world.migrations("migrations", "migrations-later");
  // A slow migration keeps the lock held long enough for the others to queue behind it.
  writeFileSync(join(dir, "0004_slow.sql"), "SELECT pg_sleep(1);\nCREATE TABLE app.slow (id int);\n");
  const env = world.applyEnv("notes", dir);

  const results = await Promise.all(Array.from({ length: 5 }, () => world.run(["apply"], env)));

  for (const result of results) assert.equal(result.code, 0, result.stdout + result.stderr);
  const output = results.map((r) => r.stdout).join("");
  for (const name of ["0001_create_notes.sql", "0002_create_tags.sql", "0003_create_reactions.sql", "0004_slow.sql"]) {
    assert.equal(output.split(`migrate     ${name}`).length - 1, 1, `${name} applied by exactly one runner`);
  }
  assert.ok(output.includes("another runner holds the migration lock"), "at least one runner waited for the lock");
  const { rows } = await world.postgres.query<{ name: string; n: number }>(
    "SELECT name, count(*)::int AS n FROM post_apply.applied_migrations GROUP BY name ORDER BY name",
    [],
    "notes",
  );
  assert.deepEqual(
    rows.map((r) => [r.name, r.n]),
    [
      ["0001_create_notes.sql", 1],
      ["0002_create_tags.sql", 1],
      ["0003_create_reactions.sql", 1],
      ["0004_slow.sql", 1],
    ],
  );
});
