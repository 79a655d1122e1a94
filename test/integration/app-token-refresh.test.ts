/**
 * The app's database password is its service principal's workspace OAuth token, minted from
 * `{DATABRICKS_HOST}/oidc/v1/token`. Here a fake workspace mints short-lived tokens and, like a rotation,
 * makes each new token the app role's only valid password the moment it is issued.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startApp } from "../../app-src/src/app";
import { jsonLogger } from "../../app-src/src/log";
import { TokenProvider, workspaceOAuthToken } from "../../app-src/src/token";
import { startPostgres, type TestPostgres } from "../../tools/lib/local/postgres";
import { APP_CLIENT_ID, appConfig, captureLogs, createAppDatabase, fakeWorkspace, request } from "./app-fixture";

const CLIENT_SECRET = "test-client-secret-do-not-log";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe("database token refresh", () => {
  let server: TestPostgres;

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  test("requests keep succeeding across several token rotations", async () => {
    const db = await createAppDatabase(server);
    const workspace = await fakeWorkspace(db, 2);
    const logs = captureLogs();
    const app = await startApp({
      config: appConfig(server, db.name, { workspaceUrl: workspace.url, clientSecret: CLIENT_SECRET }),
      logger: jsonLogger(logs.sink),
      refreshMarginMs: 1_000,
      // Short-lived connections, so new logins (with whatever token is current) happen all the time.
      pool: { idleTimeoutMillis: 100, maxLifetimeSeconds: 0.5 },
      listenHost: "127.0.0.1",
    });
    try {
      const statuses: number[] = [];
      const until = Date.now() + 4_500;
      await Promise.all(
        [0, 1, 2, 3].map(async (worker) => {
          for (let i = 0; Date.now() < until; i++) {
            const res =
              (i + worker) % 2
                ? await request(app.url, "/api/notes", {
                    method: "POST",
                    email: "ada@example.com",
                    body: { text: `w${worker} n${i}` },
                  })
                : await request(app.url, "/api/notes", { email: "ada@example.com" });
            statuses.push(res.status);
            if (res.status >= 300) {
              const errors = logs.lines.filter((l) => l.level !== "info");
              assert.fail(
                `request failed during rotation: ${res.status} ${JSON.stringify(res.body)}; app errors: ${JSON.stringify(errors)}`,
              );
            }
            await sleep(10);
          }
        }),
      );
      assert.ok(statuses.length > 50, `only ${statuses.length} requests ran`);
      assert.ok(
        workspace.issued.length >= 4,
        `expected at least 4 tokens in 4.5 s of 2 s tokens, got ${workspace.issued.length}`,
      );
      // Each issued token replaced the role's password, so logins after each rotation used the new token.
      const { rows } = await server.query<{ sessions: string }>(
        `SELECT sessions FROM pg_stat_database WHERE datname = $1`,
        [db.name],
      );
      assert.ok(Number(rows[0].sessions) > workspace.issued.length, `only ${rows[0].sessions} logins`);
      assert.equal((await request(app.url, "/ready")).status, 200);
      assert.ok(logs.lines.filter((l) => l.msg === "database token refreshed").length >= 4);
      // The request log never carries a token or the client secret.
      const text = logs.lines.map((l) => JSON.stringify(l)).join("\n");
      for (const secret of [CLIENT_SECRET, ...workspace.issued])
        assert.ok(!text.includes(secret), "a secret reached the logs");
    } finally {
      await app.close();
      await workspace.close();
    }
  });

  test("the token request is the workspace OAuth client-credentials grant of the app's service principal", async () => {
    const db = await createAppDatabase(server);
    const workspace = await fakeWorkspace(db, 3600);
    try {
      const minted = await workspaceOAuthToken({
        workspaceUrl: workspace.url,
        clientId: APP_CLIENT_ID,
        clientSecret: CLIENT_SECRET,
      })();
      assert.equal(minted.token, workspace.issued[0]);
      assert.ok(Math.abs(minted.expiresAt - (Date.now() + 3_600_000)) < 5_000);
      const [req] = workspace.requests;
      assert.equal(req.path, "/oidc/v1/token");
      assert.equal(req.authorization, `Basic ${Buffer.from(`${APP_CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`);
      assert.equal(req.contentType, "application/x-www-form-urlencoded");
      assert.deepEqual(Object.fromEntries(new URLSearchParams(req.body)), {
        grant_type: "client_credentials",
        scope: "all-apis",
      });

      workspace.failWith = { status: 401, error: "invalid_client", description: "Client authentication failed" };
      await assert.rejects(
        workspaceOAuthToken({ workspaceUrl: workspace.url, clientId: APP_CLIENT_ID, clientSecret: CLIENT_SECRET })(),
        (error: Error) => {
          assert.equal(
            error.message,
            `token request to ${workspace.url}/oidc/v1/token returned HTTP 401 (invalid_client: Client authentication failed)`,
          );
          return true;
        },
      );
    } finally {
      await workspace.close();
    }
  });

  test("a failed refresh is logged and fails /ready until a retry succeeds; requests fail only once the token has expired", async () => {
    const db = await createAppDatabase(server);
    const workspace = await fakeWorkspace(db, 2);
    const logs = captureLogs();
    const app = await startApp({
      config: appConfig(server, db.name, { workspaceUrl: workspace.url, clientSecret: CLIENT_SECRET }),
      logger: jsonLogger(logs.sink),
      refreshMarginMs: 1_000,
      retryDelayMs: 200,
      pool: { idleTimeoutMillis: 50, maxLifetimeSeconds: 0.2 },
      listenHost: "127.0.0.1",
    });
    try {
      assert.equal((await request(app.url, "/ready")).status, 200);
      const issuedBefore = workspace.issued.length;
      workspace.failWith = { status: 401, error: "invalid_client", description: "Client authentication failed" };

      // The background refresh (due 1 s after the mint, 1 s before expiry) fails: logged, and /ready says so while the old token still works.
      await waitFor("the failed refresh to be logged", () =>
        logs.lines.some((l) => l.msg === "database token refresh failed"),
      );
      const failure = logs.lines.find((l) => l.msg === "database token refresh failed")!;
      assert.equal(failure.level, "error");
      assert.match(String(failure.error), /returned HTTP 401 \(invalid_client: Client authentication failed\)/);
      assert.equal(failure.retry_in_ms, 200);
      const ready = await request(app.url, "/ready");
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.credentials.ok, false);
      assert.match(
        ready.body.reason,
        /^database token refresh failed at \S+: token request to .*\/oidc\/v1\/token returned HTTP 401/,
      );
      assert.equal(
        (await request(app.url, "/api/notes", { email: "ada@example.com" })).status,
        200,
        "the unexpired token still logs in",
      );

      // Retries keep failing; once the token has expired, new connections cannot log in and the API answers 503.
      await waitFor(
        "the token to expire",
        () => !app.tokens.status().expiresAt || Date.parse(app.tokens.status().expiresAt!) < Date.now(),
      );
      await sleep(300); // the pool's connections made with the old token are recycled
      const down = await request(app.url, "/api/notes", { email: "ada@example.com" });
      assert.equal(down.status, 503, JSON.stringify(down.body));
      assert.ok(
        logs.lines.filter((l) => l.msg === "database token refresh failed").length >= 2,
        "the refresh is retried",
      );

      // The workspace recovers: the next retry succeeds, /ready is 200 again.
      workspace.failWith = undefined;
      await waitFor("a new token", () => workspace.issued.length > issuedBefore);
      await waitFor("/ready to recover", async () => (await request(app.url, "/ready")).status === 200);
      assert.equal((await request(app.url, "/api/notes", { email: "ada@example.com" })).status, 200);
      assert.ok(logs.lines.some((l) => l.msg === "database token refreshed" && l.recovered === true));
      const text = logs.lines.map((l) => JSON.stringify(l)).join("\n");
      assert.ok(!text.includes(CLIENT_SECRET));
    } finally {
      await app.close();
      await workspace.close();
    }
  });

  test("the app starts when the first token cannot be minted: /health 200, /ready 503 with the reason", async () => {
    const db = await createAppDatabase(server);
    const workspace = await fakeWorkspace(db, 3600);
    workspace.failWith = { status: 500, error: "temporarily_unavailable", description: "try later" };
    const logs = captureLogs();
    const app = await startApp({
      config: appConfig(server, db.name, { workspaceUrl: workspace.url }),
      logger: jsonLogger(logs.sink),
      retryDelayMs: 2_000,
      listenHost: "127.0.0.1",
    });
    try {
      assert.equal((await request(app.url, "/health")).status, 200);
      const ready = await request(app.url, "/ready");
      assert.equal(ready.status, 503);
      assert.match(
        ready.body.reason,
        /database token refresh failed at .*HTTP 500 \(temporarily_unavailable: try later\)/,
      );
      // Requests needing a connection fail fast with 503 (no hang, no crash, no token request per request)...
      const attempts = workspace.requests.length;
      for (let i = 0; i < 5; i++)
        assert.equal((await request(app.url, "/api/notes", { email: "ada@example.com" })).status, 503);
      assert.equal(workspace.requests.length, attempts, "no token request per failing request");
      assert.equal(logs.lines.filter((l) => l.msg === "database token refresh failed").length, 1);
      // ...until a retry succeeds.
      workspace.failWith = undefined;
      await waitFor("/ready to recover", async () => (await request(app.url, "/ready")).status === 200);
      assert.equal((await request(app.url, "/api/notes", { email: "ada@example.com" })).status, 200);
    } finally {
      await app.close();
      await workspace.close();
    }
  });

  test("a login refused with an older cached token gets one fresh token and one retry; a fresh token refused is not re-minted", async () => {
    const db = await createAppDatabase(server, { appPassword: "rotated-elsewhere" });
    const handed: string[] = [];
    let next = "stale-token";
    const app = await startApp({
      config: appConfig(server, db.name),
      logger: jsonLogger(() => {}),
      mint: async () => {
        handed.push(next);
        return { token: next, expiresAt: Date.now() + 3_600_000 };
      },
      retryDelayMs: 200,
      listenHost: "127.0.0.1",
    });
    try {
      // Just minted and refused: not about its age; 503 without another token request per request.
      for (let i = 0; i < 3; i++)
        assert.equal((await request(app.url, "/api/notes", { email: "ada@example.com" })).status, 503);
      assert.deepEqual(handed, ["stale-token"]);
      // Older than retryDelayMs and refused (the server rotated it, or the clocks disagree): one new token, one retry.
      await sleep(250);
      next = "rotated-elsewhere";
      const res = await request(app.url, "/api/notes", { email: "ada@example.com" });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(handed, ["stale-token", "rotated-elsewhere"]);
    } finally {
      await app.close();
    }
  });

  test("the refresh is scheduled before expiry: at most half the lifetime early, by the configured margin", async () => {
    let now = 1_000_000;
    let mints = 0;
    const provider = new TokenProvider({
      mint: async () => ({ token: `t${++mints}`, expiresAt: now + 60 * 60_000 }),
      logger: jsonLogger(() => {}),
      refreshMarginMs: 10 * 60_000,
      now: () => now,
    });
    try {
      await provider.start();
      assert.equal(await provider.get(), "t1");
      now += 49 * 60_000; // before the refresh window: cached
      assert.equal(await provider.get(), "t1");
      assert.equal(mints, 1);
      now += 2 * 60_000; // inside the window: the valid token is handed out while a refresh runs
      assert.equal(await provider.get(), "t1");
      await waitFor("the background refresh", () => mints === 2);
      assert.equal(await provider.get(), "t2");
    } finally {
      provider.stop();
    }
  });
});
