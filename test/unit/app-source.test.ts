import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { parse } from "yaml";
import { AppSource } from "../../stacks/source/app-source";
import { appSource, appSourceFiles, appSourceSha256 } from "../../stacks/source/app-source-files";
import { App, TerraformStack } from "../../stacks/cdktf";
import { contentHash } from "../../stacks/content-hash";
import { environment, onlyResource, resources, synthConstruct, synthStack } from "../support/synth";

/** A temporary directory holding `files` (relative path → content); removed after `use`. */
function withTree<T>(files: Record<string, string>, use: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "app-src-"));
  try {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    return use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("appSourceFiles keeps the app and leaves out tests, dependencies, local env files, VCS data and build caches", () => {
  const kept = [
    "app.yaml",
    "package.json",
    "src/main.ts",
    "src/routes/notes.ts",
    "migrations/0001_init.sql",
    "static/.well-known/x.txt",
    "src/environment.ts",
  ];
  const dropped = [
    "test/app.test.ts",
    "tests/conftest.py",
    "src/__tests__/notes.ts",
    "src/notes.test.ts",
    "src/notes.spec.js",
    "node_modules/pg/index.js",
    "src/node_modules/x.js",
    ".env",
    ".env.local",
    "src/.env.production",
    ".git/config",
    "dist/main.js",
    "__pycache__/app.cpython-311.pyc",
    "src/helper.pyc",
    ".pytest_cache/v/cache",
    ".venv/bin/python",
    ".DS_Store",
  ];
  const files = Object.fromEntries([...kept, ...dropped].map((p) => [p, p]));
  assert.deepEqual(withTree(files, appSourceFiles), [...kept].sort());
});

test("appSourceFiles lists posix paths in code-unit order, independent of the file system's order", () => {
  assert.deepEqual(withTree({ "b.txt": "", "B.txt": "", "a/z.txt": "", "a.txt": "" }, appSourceFiles), [
    "B.txt",
    "a.txt",
    "a/z.txt",
    "b.txt",
  ]);
});

test("a missing or empty source directory is refused, naming it", () => {
  assert.throws(
    () => appSourceFiles("/nonexistent/app-src"),
    /app source directory \/nonexistent\/app-src: expected a directory with the app's code, found nothing there/,
  );
  withTree({ "node_modules/x.js": "" }, (dir) =>
    assert.throws(
      () =>
        synthConstruct((scope) => new AppSource(scope, "source", { workspacePath: "/Shared/apps/x", sourceDir: dir })),
      /expected files to upload, found none/,
    ),
  );
});

test("Terraform manages one per-environment directory that deletes recursively, and no resource per file", () => {
  const { json } = synthStack(environment());
  const directory = onlyResource(json, "databricks_directory");
  assert.equal(directory.path, "/Shared/apps/notes-test");
  assert.equal(directory.delete_recursive, true);
  assert.deepEqual(resources(json, "databricks_workspace_file"), {});
  assert.equal(
    JSON.stringify(json).includes(REPO_ROOT),
    false,
    "the synthesized JSON contains this machine's repository path",
  );
});

test("file names never reach Terraform: a file named like a template changes the hash, not the stack's text", () => {
  withTree({ "app.yaml": "command: [x]\n", '${file("/etc/passwd")}.js': "x", "100%{.js": "y" }, (dir) => {
    let source: AppSource | undefined;
    const json = synthConstruct(
      (scope) => (source = new AppSource(scope, "source", { workspacePath: "/Shared/apps/x", sourceDir: dir })),
    );
    assert.equal(source!.fileCount, 3);
    assert.doesNotMatch(JSON.stringify(json), /passwd|100%/);
  });
});

test("app.sourcePath moves the upload; sourceCodePath is it with the /Workspace prefix", () => {
  const { json, stack } = synthStack(environment({ app: { sourcePath: "/Users/ada@example.com/notes" } }));
  assert.equal(onlyResource(json, "databricks_directory").path, "/Users/ada@example.com/notes");
  assert.equal((stack.node.findChild("source") as AppSource).sourceCodePath, "/Workspace/Users/ada@example.com/notes");
});

test("app.env adds plain settings to app.yaml's env list, and only to the deployed copy", () => {
  const files = { "app.yaml": "command: [node, main.js]\nenv:\n  - name: KEY\n    valueFrom: key\n" };
  withTree(files, (dir) => {
    const deployed = appSource(dir, { LOG_LEVEL: "debug", ENVIRONMENT: "dev" }).find((f) => f.path === "app.yaml")!;
    assert.deepEqual(parse(deployed.content.toString("utf8")), {
      command: ["node", "main.js"],
      env: [
        { name: "KEY", valueFrom: "key" },
        { name: "LOG_LEVEL", value: "debug" },
        { name: "ENVIRONMENT", value: "dev" },
      ],
    });
    assert.equal(readFileSync(join(dir, "app.yaml"), "utf8"), files["app.yaml"]);
    assert.deepEqual(appSource(dir), [{ path: "app.yaml", content: Buffer.from(files["app.yaml"]) }]);
  });
  withTree({ "app.yaml": "command: [node, main.js]\n" }, (dir) =>
    assert.deepEqual(parse(appSource(dir, { A: "1" })[0].content.toString("utf8")).env, [{ name: "A", value: "1" }]),
  );
});

test("a new or changed setting changes the deployed hash", () => {
  withTree({ "app.yaml": "command: [x]\n", "src/a.js": "a" }, (dir) => {
    const build = (env: Record<string, string>) => {
      let source: AppSource | undefined;
      synthConstruct(
        (scope) => (source = new AppSource(scope, "source", { workspacePath: "/Shared/apps/x", sourceDir: dir, env })),
      );
      return source!.contentHash;
    };
    assert.notEqual(build({ LOG_LEVEL: "debug" }), build({}));
    assert.notEqual(build({ LOG_LEVEL: "debug" }), build({ LOG_LEVEL: "info" }));
  });
});

test("contentHash covers paths and contents of exactly the uploaded files", () => {
  const hash = (files: Record<string, string>) =>
    withTree(files, (dir) => {
      let source: AppSource | undefined;
      synthConstruct(
        (scope) => (source = new AppSource(scope, "source", { workspacePath: "/Shared/apps/x", sourceDir: dir })),
      );
      return source!.contentHash;
    });
  const base = hash({ "app.yaml": "a", "src/x.js": "x" });
  assert.equal(
    base,
    contentHash([
      { path: "app.yaml", content: Buffer.from("a") },
      { path: "src/x.js", content: Buffer.from("x") },
    ]),
  );
  assert.notEqual(hash({ "app.yaml": "a", "src/x.js": "y" }), base, "an edit");
  assert.notEqual(hash({ "app.yaml": "a", "src/y.js": "x" }), base, "a rename");
  assert.equal(
    hash({ "app.yaml": "a", "src/x.js": "x", "src/x.test.js": "t", ".env": "SECRET=1" }),
    base,
    "excluded files",
  );
});

test("the stacks of one App read the source once; the next App reads it again", () => {
  withTree({ "app.yaml": "command: [x]\n", "src/a.js": "a" }, (dir) => {
    const before = { plain: appSourceSha256(dir), withEnv: appSourceSha256(dir, { A: "1" }) };
    const source = (app: App, id: string, env?: Record<string, string>) =>
      new AppSource(new TerraformStack(app, id), "source", {
        workspacePath: `/Shared/apps/${id}`,
        sourceDir: dir,
        env,
      });
    const app = new App();
    const first = source(app, "first", { A: "1" });
    writeFileSync(join(dir, "src/a.js"), "edited");
    // Read once: the second stack deploys the same files as the first (its own app.yaml settings applied).
    assert.equal(first.contentHash, before.withEnv);
    assert.equal(source(app, "second").contentHash, before.plain);
    assert.equal(source(new App(), "later").contentHash, appSourceSha256(dir));
    assert.notEqual(appSourceSha256(dir), before.plain);
  });
});
