import { test } from "node:test";
import assert from "node:assert/strict";
import { startPostgres } from "../../tools/lib/local/postgres";

test("the test PostgreSQL accepts password logins for roles the tests create", async () => {
  const pg = await startPostgres();
  try {
    await pg.query(`CREATE ROLE "app-role" LOGIN PASSWORD 'pw'`);
    const { rows } = await (async () => {
      const client = new (await import("pg")).default.Client(pg.clientConfig({ user: "app-role", password: "pw" }));
      await client.connect();
      try {
        return await client.query<{ u: string }>("SELECT current_user AS u");
      } finally {
        await client.end();
      }
    })();
    assert.equal(rows[0].u, "app-role");
  } finally {
    await pg.stop();
  }
});
