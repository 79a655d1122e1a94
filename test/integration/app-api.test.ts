/**
 * The app (app-src/) against a real PostgreSQL, logged in as the app's role after the post-apply grants:
 * the notes API, /health, /ready and its reasons, and the request log.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, copyFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp, type RunningApp } from "../../app-src/src/app";
import { jsonLogger } from "../../app-src/src/log";
import { startPostgres, type TestPostgres } from "../../tools/lib/local/postgres";
import {
  APP_CLIENT_ID,
  APP_MIGRATIONS,
  type AppDatabase,
  appConfig,
  captureLogs,
  createAppDatabase,
  request,
} from "./app-fixture";

const TOKEN = "static-test-token";
const staticMint = async () => ({ token: TOKEN, expiresAt: Date.now() + 3_600_000 });

describe("notes app on a migrated, granted database", () => {
  let server: TestPostgres;
  let app: RunningApp;
  let migrated: AppDatabase;
  let database: string;
  const logs = captureLogs();
  let serverStopped = false;

  before(async () => {
    server = await startPostgres();
    migrated = await createAppDatabase(server, { appPassword: TOKEN });
    database = migrated.name;
    app = await startApp({
      config: appConfig(server, database),
      logger: jsonLogger(logs.sink),
      mint: staticMint,
      listenHost: "127.0.0.1",
    });
  });
  after(async () => {
    await app?.close();
    if (!serverStopped) await server?.stop();
  });

  test("GET /health answers while the process is up", async () => {
    const res = await request(app.url, "/health");
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: "ok" });
  });

  test("GET /ready is 200 when the database is reachable and at the shipped migration version", async () => {
    const res = await request(app.url, "/ready");
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.ready, true);
    assert.equal(res.body.checks.migrations.detail, "at 0001_create_notes.sql (latest applied: 0001_create_notes.sql)");
  });

  test("the app really runs as its own role, not as a superuser", async () => {
    const { rows } = await server.query<{ usename: string; usesuper: boolean }>(
      `SELECT a.usename, u.usesuper FROM pg_stat_activity a JOIN pg_user u ON u.usename = a.usename WHERE a.application_name = 'notes-app'`,
    );
    assert.ok(rows.length > 0, "the app has a pooled connection open");
    for (const row of rows) assert.deepEqual(row, { usename: APP_CLIENT_ID, usesuper: false });
  });

  test("POST /api/notes creates a note for the caller and GET /api/notes lists only the caller's, newest first", async () => {
    const first = await request(app.url, "/api/notes", {
      method: "POST",
      email: "ada@example.com",
      body: { text: "first" },
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.text, "first");
    assert.match(first.body.id, /^\d+$/);
    assert.ok(!Number.isNaN(Date.parse(first.body.createdAt)));
    await request(app.url, "/api/notes", { method: "POST", email: "ada@example.com", body: { text: "second" } });
    await request(app.url, "/api/notes", { method: "POST", email: "grace@example.com", body: { text: "not ada's" } });

    const ada = await request(app.url, "/api/notes", { email: "ada@example.com" });
    assert.equal(ada.status, 200);
    assert.deepEqual(
      ada.body.notes.map((n: { text: string }) => n.text),
      ["second", "first"],
    );
    const nobody = await request(app.url, "/api/notes", { email: "nobody@example.com" });
    assert.deepEqual(nobody.body, { notes: [] });
  });

  test("requests without X-Forwarded-Email are rejected with 401", async () => {
    const list = await request(app.url, "/api/notes");
    assert.equal(list.status, 401);
    assert.match(list.body.error, /X-Forwarded-Email/);
    const create = await request(app.url, "/api/notes", { method: "POST", body: { text: "anonymous" } });
    assert.equal(create.status, 401);
    const blank = await request(app.url, "/api/notes", { headers: { "X-Forwarded-Email": "  " } });
    assert.equal(blank.status, 401);
  });

  test("bad note bodies get 400 with what was expected, unknown routes 404, wrong methods 405", async () => {
    const email = "ada@example.com";
    for (const body of ["{not json", { text: "" }, { text: "   " }, { text: 42 }, {}, [], "null"]) {
      const res = await request(app.url, "/api/notes", { method: "POST", email, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
    }
    const tooLong = await request(app.url, "/api/notes", { method: "POST", email, body: { text: "x".repeat(10_001) } });
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.body.error, /longer than 10000/);
    const tooBig = await request(app.url, "/api/notes", { method: "POST", email, body: { text: "x".repeat(70_000) } });
    assert.equal(tooBig.status, 413);
    assert.equal((await request(app.url, "/nope")).status, 404);
    const del = await request(app.url, "/api/notes", { method: "DELETE", email });
    assert.equal(del.status, 405);
    assert.equal(del.headers.get("allow"), "GET, POST");
  });

  test("one JSON log line per request, with the caller's X-Request-Id or a generated one", async () => {
    const before = logs.lines.length;
    const given = await request(app.url, "/health", { headers: { "X-Request-Id": "req-abc.123" } });
    assert.equal(given.headers.get("x-request-id"), "req-abc.123");
    const generated = await request(app.url, "/api/notes", { email: "ada@example.com" });
    const generatedId = generated.headers.get("x-request-id") ?? "";
    assert.match(generatedId, /^[0-9a-f-]{36}$/);
    const hostile = await request(app.url, "/health", { headers: { "X-Request-Id": "bad id\twith spaces" } });
    assert.notEqual(hostile.headers.get("x-request-id"), "bad id\twith spaces");

    await new Promise((r) => setTimeout(r, 20)); // the line is written when the response closes
    const requests = logs.lines.slice(before).filter((l) => l.msg === "request");
    assert.equal(requests.length, 3);
    assert.deepEqual(
      requests.map(({ request_id, method, path, status }) => ({ request_id, method, path, status })),
      [
        { request_id: "req-abc.123", method: "GET", path: "/health", status: 200 },
        { request_id: generatedId, method: "GET", path: "/api/notes", status: 200 },
        { request_id: hostile.headers.get("x-request-id"), method: "GET", path: "/health", status: 200 },
      ],
    );
    for (const line of requests) {
      assert.equal(typeof line.time, "string");
      assert.equal(typeof line.duration_ms, "number");
    }
  });

  test("GET /ready is 503 naming the migration the database lacks, and 200 once the runner has applied it", async () => {
    // The next build of the app ships one more migration than the database has.
    const dir = mkdtempSync(join(tmpdir(), "app-migrations-"));
    for (const file of readdirSync(APP_MIGRATIONS)) copyFileSync(join(APP_MIGRATIONS, file), join(dir, file));
    const last = readdirSync(APP_MIGRATIONS)
      .filter((f) => f.endsWith(".sql"))
      .sort()
      .at(-1)!;
    const next = `${String(Number(last.slice(0, 4)) + 1).padStart(4, "0")}_create_note_tags.sql`;
    writeFileSync(
      join(dir, next),
      "CREATE TABLE app.note_tags (id bigserial PRIMARY KEY, note_id bigint NOT NULL REFERENCES app.notes (id), tag text NOT NULL);\n",
    );
    const newer = await startApp({
      config: appConfig(server, database),
      logger: jsonLogger(() => {}),
      mint: staticMint,
      migrationsDir: dir,
      listenHost: "127.0.0.1",
    });
    try {
      const res = await request(newer.url, "/ready");
      assert.equal(res.status, 503);
      assert.equal(res.body.ready, false);
      assert.equal(res.body.reason, `migrations not applied: ${next} (app expects ${next}, latest applied: ${last})`);
      assert.equal(res.body.checks.database.ok, true);
      // The older build, already running, is still ready: it needs nothing the database lacks.
      assert.equal((await request(app.url, "/ready")).status, 200);

      await migrated.migrate(dir);
      const after = await request(newer.url, "/ready");
      assert.equal(after.status, 200, JSON.stringify(after.body));
      assert.equal(after.body.checks.migrations.detail, `at ${next} (latest applied: ${next})`);
      assert.equal((await request(app.url, "/ready")).status, 200, "a database ahead of the build is fine");
    } finally {
      await newer.close();
    }
  });

  test("GET /ready is 503 when no migration was ever applied", async () => {
    const empty = await createAppDatabase(server, { migrationsDir: null });
    const fresh = await startApp({
      config: appConfig(server, empty.name),
      logger: jsonLogger(() => {}),
      mint: staticMint,
      listenHost: "127.0.0.1",
    });
    try {
      const res = await request(fresh.url, "/ready");
      assert.equal(res.status, 503);
      assert.equal(
        res.body.reason,
        "post_apply.applied_migrations does not exist: no migrations applied (app expects 0001_create_notes.sql)",
      );
    } finally {
      await fresh.close();
    }
  });

  test("GET /ready is 503 naming the missing grant when the app role may not read the runner's history", async () => {
    const revoked = await createAppDatabase(server);
    await revoked.asDeployer(`REVOKE SELECT ON post_apply.applied_migrations FROM "${APP_CLIENT_ID}"`);
    const fresh = await startApp({
      config: appConfig(server, revoked.name),
      logger: jsonLogger(() => {}),
      mint: staticMint,
      listenHost: "127.0.0.1",
    });
    try {
      const res = await request(fresh.url, "/ready");
      assert.equal(res.status, 503);
      assert.match(
        res.body.reason,
        /^the app role may not read post_apply\.applied_migrations \(needs USAGE on schema post_apply and SELECT on the table\): permission denied/,
      );
      // The API itself works: the grants on the app schema are all it needs.
      assert.equal(
        (await request(fresh.url, "/api/notes", { method: "POST", email: "ada@example.com", body: { text: "hi" } }))
          .status,
        201,
      );
    } finally {
      await fresh.close();
    }
  });

  test("GET /ready is 503 with the connection error when the database is down; /health stays 200; the API says 503", async () => {
    await server.stop();
    serverStopped = true;
    const ready = await request(app.url, "/ready");
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.database.ok, false);
    assert.match(ready.body.reason, /^database unreachable: /);
    assert.equal((await request(app.url, "/health")).status, 200);
    const notes = await request(app.url, "/api/notes", { email: "ada@example.com" });
    assert.equal(notes.status, 503);
    assert.equal(notes.body.error, "database unavailable");
    assert.equal(notes.body.request_id, notes.headers.get("x-request-id"));
  });
});
