/**
 * What the stack uploads from app-src/ (stacks/source: `appSourceFiles`) is the app and only the app, and
 * that set builds and runs the way the Databricks Apps runtime does it for a Node app: `npm install`,
 * `npm run build`, then app.yaml's `command` (https://docs.databricks.com/aws/en/dev-tools/databricks-apps/deploy).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { freePort } from "../../tools/lib/local/free-port";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { appSourceFiles } from "../../stacks/source/app-source-files";
import { startPostgres, type TestPostgres } from "../../tools/lib/local/postgres";
import { APP_CLIENT_ID, APP_SRC, createAppDatabase, fakeWorkspace, request } from "./app-fixture";

const REPO_ROOT = join(APP_SRC, "..");

/** Top-level entries of app-src/ that are the app. A new one must be added here on purpose. */
const APP_ROOT_FILES = [".gitignore", "app.yaml", "package-lock.json", "package.json", "tsconfig.json"];
const APP_DIRECTORIES = ["migrations", "src"];
/** What may also sit in app-src/ locally and must never be uploaded. */
const LOCAL_ONLY = /^(node_modules|dist|test|\.env(\..*)?)$/;

/** The app's files by the rule above, read from disk: root files plus everything under src/ and migrations/ except tests. */
function expectedUpload(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(APP_SRC, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(`${dir}/${e.name}`) : /\.(test|spec)\./.test(e.name) ? [] : [`${dir}/${e.name}`],
    );
  return [...APP_ROOT_FILES, ...APP_DIRECTORIES.flatMap(walk)].sort();
}

function copyInto(target: string, files: readonly string[]): void {
  for (const file of files) {
    mkdirSync(dirname(join(target, file)), { recursive: true });
    copyFileSync(join(APP_SRC, file), join(target, file));
  }
}

function plant(root: string, files: Record<string, string>): void {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), content);
  }
}

test("app-src/ holds only the app (plus local-only files that are never uploaded)", () => {
  const unexpected = readdirSync(APP_SRC).filter(
    (e) => ![...APP_ROOT_FILES, ...APP_DIRECTORIES].includes(e) && !LOCAL_ONLY.test(e),
  );
  assert.deepEqual(
    unexpected,
    [],
    "a new top-level entry in app-src/: add it to APP_ROOT_FILES if it is part of the app",
  );
});

test("the stack uploads exactly the app's files from the real app-src/", () => {
  assert.deepEqual([...appSourceFiles(APP_SRC)].sort(), expectedUpload());
});

test("node_modules, .env files, build output and tests next to the real app's files are not uploaded", () => {
  const dir = mkdtempSync(join(tmpdir(), "app-src-"));
  try {
    copyInto(dir, expectedUpload());
    plant(dir, {
      "node_modules/pg/package.json": "{}",
      "node_modules/.bin/tsc": "#!/bin/sh\n",
      ".env": "DATABRICKS_CLIENT_SECRET=local-secret\n",
      ".env.local": "PGPASSWORD=local\n",
      "test/notes.test.ts": "// app test\n",
      "test/fixtures/seed.sql": "SELECT 1;\n",
      "src/server.test.ts": "// unit test beside the code\n",
      "dist/main.js": "// a local build\n",
    });
    assert.deepEqual([...appSourceFiles(dir)].sort(), expectedUpload());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("the uploaded files build and run like on the Apps runtime", () => {
  let server: TestPostgres;
  let dir: string;

  before(async () => {
    server = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), "app-deploy-"));
    copyInto(dir, appSourceFiles(APP_SRC));
    // Stands in for the runtime's `npm install` (no network in tests): the root install has the same
    // pinned pg and typescript (checked in app-contract.test.ts).
    symlinkSync(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    // The runtime's build, emitting only: `npm run typecheck` type-checks app-src (tsc -p app-src).
    await promisify(execFile)("npm", ["run", "build", "--", "--noCheck"], {
      cwd: dir,
      env: { ...process.env, npm_config_update_notifier: "false" },
    });
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("npm run build emits the file app.yaml's command runs", () => {
    const command = parse(appSourceYaml()).command as string[];
    assert.ok(existsSync(join(dir, command[1])), `${command.join(" ")}: ${command[1]} was not built`);
  });

  test("app.yaml's command serves the API with the platform's environment, logs JSON and stops on SIGTERM", async () => {
    const db = await createAppDatabase(server);
    const workspace = await fakeWorkspace(db, 3600);
    const port = await freePort();
    const app = runCommand(dir, {
      DATABRICKS_APP_PORT: String(port),
      DATABRICKS_HOST: workspace.url,
      DATABRICKS_CLIENT_ID: APP_CLIENT_ID,
      DATABRICKS_CLIENT_SECRET: "test-client-secret",
      DATABRICKS_APP_NAME: "notes-dev",
      PGHOST: server.host,
      PGPORT: String(server.port),
      PGDATABASE: db.name,
      PGUSER: APP_CLIENT_ID,
      PGSSLMODE: "disable",
      PGAPPNAME: "notes-dev",
    });
    try {
      await app.waitForLog((l) => l.msg === "listening");
      const url = `http://127.0.0.1:${port}`;
      assert.equal((await request(url, "/health")).status, 200);
      const ready = await request(url, "/ready");
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      const created = await request(url, "/api/notes", {
        method: "POST",
        email: "ada@example.com",
        body: { text: "from the built app" },
      });
      assert.equal(created.status, 201);
      const listed = await request(url, "/api/notes", { email: "ada@example.com" });
      assert.deepEqual(
        listed.body.notes.map((n: { text: string }) => n.text),
        ["from the built app"],
      );
      assert.equal(workspace.issued.length, 1, "one token minted through the workspace OAuth endpoint");

      app.child.kill("SIGTERM");
      const [code] = await once(app.child, "exit");
      assert.equal(code, 0);
      assert.deepEqual(app.nonJson, [], "every stdout line is JSON");
      assert.ok(app.lines.some((l) => l.msg === "request" && l.path === "/api/notes" && l.status === 201));
      assert.ok(app.lines.some((l) => l.msg === "shutting down" && l.signal === "SIGTERM"));
    } finally {
      app.child.kill("SIGKILL");
      await workspace.close();
    }
  });

  test("without the platform's environment the command exits 1 naming every missing variable", async () => {
    const app = runCommand(dir, { DATABRICKS_APP_PORT: "not-a-port" });
    const [code] = await once(app.child, "exit");
    assert.equal(code, 1);
    const [line] = app.lines;
    assert.equal(line.msg, "app failed to start");
    assert.deepEqual(line.problems, [
      'DATABRICKS_APP_PORT must be a port number, found "not-a-port"',
      "DATABRICKS_HOST is not set",
      "DATABRICKS_CLIENT_ID is not set",
      "DATABRICKS_CLIENT_SECRET is not set",
      "PGHOST is not set",
      "PGDATABASE is not set",
    ]);
  });
});

function appSourceYaml(): string {
  return readFileSync(join(APP_SRC, "app.yaml"), "utf8");
}

/** Runs app.yaml's command in `cwd` with only `env` (plus PATH) and app.yaml's own env entries, like the runtime. */
function runCommand(cwd: string, env: Record<string, string>) {
  const spec = parse(appSourceYaml()) as {
    command: string[];
    env?: { name: string; value?: string; valueFrom?: string }[];
  };
  const fromYaml = Object.fromEntries(
    (spec.env ?? []).map((e) => [e.name, e.value ?? `<value of resource ${e.valueFrom}>`]),
  );
  const [command, ...args] = spec.command.map((part) =>
    part.replaceAll("$DATABRICKS_APP_PORT", env.DATABRICKS_APP_PORT ?? ""),
  );
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? "", ...fromYaml, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  const nonJson: string[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  let buffered = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const part of parts.filter(Boolean)) {
      try {
        const line = JSON.parse(part) as Record<string, unknown>;
        lines.push(line);
        for (const w of waiters.filter((w) => w.match(line))) w.resolve();
      } catch {
        nonJson.push(part);
      }
    }
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return {
    child,
    lines,
    nonJson,
    waitForLog(match: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<void> {
      if (lines.some(match)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching log line within ${timeoutMs} ms; stdout: ${JSON.stringify(lines)} stderr: ${stderr}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        child.once("exit", (code) =>
          reject(new Error(`the app exited with ${code}; stdout: ${JSON.stringify(lines)} stderr: ${stderr}`)),
        );
      });
    },
  };
}
