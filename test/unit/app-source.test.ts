import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { REPO_ROOT } from "../../stacks/config/load-environments";
import { AppSource, appSourceFiles } from "../../stacks/source/app-source";
import { contentHash } from "../../stacks/content-hash";
import { ConfigError } from "../../stacks/config/config-error";
import { literalText } from "../../stacks/config/terraform-literal";
import { addressOf, environment, FIXTURE_SOURCE_DIR, onlyResource, resources, synthConstruct, synthStack, TEMPLATE_PAYLOADS } from "../support/synth";

const FILE = "databricks_workspace_file";

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
  const kept = ["app.yaml", "package.json", "src/main.ts", "src/routes/notes.ts", "migrations/0001_init.sql", "static/.well-known/x.txt", "src/environment.ts"];
  const dropped = [
    "test/app.test.ts", "tests/conftest.py", "src/__tests__/notes.ts", "src/notes.test.ts", "src/notes.spec.js",
    "node_modules/pg/index.js", "src/node_modules/x.js",
    ".env", ".env.local", "src/.env.production",
    ".git/config", "dist/main.js", "__pycache__/app.cpython-311.pyc", "src/helper.pyc", ".pytest_cache/v/cache", ".venv/bin/python", ".DS_Store",
  ];
  const files = Object.fromEntries([...kept, ...dropped].map((p) => [p, p]));
  assert.deepEqual(withTree(files, appSourceFiles), [...kept].sort());
});

test("appSourceFiles lists posix paths in code-unit order, independent of the file system's order", () => {
  assert.deepEqual(withTree({ "b.txt": "", "B.txt": "", "a/z.txt": "", "a.txt": "" }, appSourceFiles), ["B.txt", "a.txt", "a/z.txt", "b.txt"]);
});

test("a missing or empty source directory is refused, naming it", () => {
  assert.throws(() => appSourceFiles("/nonexistent/app-src"), /app source directory \/nonexistent\/app-src: expected a directory with the app's code, found nothing there/);
  withTree({ "node_modules/x.js": "" }, (dir) =>
    assert.throws(() => synthConstruct((scope) => new AppSource(scope, "source", { workspacePath: "/Shared/apps/x", sourceDir: dir })), /expected files to upload, found none/),
  );
});

test("the files are one for_each workspace file keyed by path, under one per-environment directory that deletes recursively", () => {
  const { json } = synthStack(environment());
  const directory = onlyResource(json, "databricks_directory");
  assert.equal(directory.path, "/Shared/apps/notes-test");
  assert.equal(directory.delete_recursive, true);

  const upload = onlyResource(json, FILE);
  assert.deepEqual(Object.keys(upload.for_each), appSourceFiles(FIXTURE_SOURCE_DIR));
  assert.equal(upload.path, "/Shared/apps/notes-test/${each.key}");
  assert.equal(upload.source, "${each.value.source}");
  assert.equal(upload.md5, "${each.value.md5}");
  assert.deepEqual(upload.depends_on, [addressOf(json, "databricks_directory")]);
});

test("sources are relative to the stack directory and carry the content's md5; no absolute path reaches the output", () => {
  const { json } = synthStack(environment());
  const stackDirectory = join(REPO_ROOT, "cdktf.out", "stacks", "test");
  for (const [path, file] of Object.entries(onlyResource(json, FILE).for_each as Record<string, { source: string; md5: string }>)) {
    assert.equal(file.source, `../../../test/fixtures/app-src/${path}`);
    const onDisk = resolve(stackDirectory, file.source);
    assert.equal(file.md5, createHash("md5").update(readFileSync(onDisk)).digest("hex"), file.source);
  }
  assert.equal(JSON.stringify(json).includes(REPO_ROOT), false, "the synthesized JSON contains this machine's repository path");
});

test("app.sourcePath moves the upload; sourceCodePath is it with the /Workspace prefix", () => {
  const { json, stack } = synthStack(environment({ app: { sourcePath: "/Users/ada@example.com/notes" } }));
  assert.equal(onlyResource(json, "databricks_directory").path, "/Users/ada@example.com/notes");
  assert.equal((stack.node.findChild("source") as AppSource).sourceCodePath, "/Workspace/Users/ada@example.com/notes");
});

test("file addresses come from the relative path, so adding a file does not move the others", () => {
  const files = { "app.yaml": "command: []", "src/a.js": "a" };
  const build = (dir: string) => {
    const json = synthConstruct((scope) => new AppSource(scope, "source", { workspacePath: "/Shared/apps/x", sourceDir: dir }));
    const [[address, upload]] = Object.entries(resources(json, FILE));
    return { address, keys: Object.keys(upload.for_each) };
  };
  const before = withTree(files, build);
  const after = withTree({ ...files, "src/0-first.js": "" }, build);
  assert.equal(after.address, before.address);
  assert.deepEqual(after.keys, ["app.yaml", "src/0-first.js", "src/a.js"]);
});

test("contentHash covers paths and contents of exactly the uploaded files", () => {
  const hash = (files: Record<string, string>) =>
    withTree(files, (dir) => {
      let source: AppSource | undefined;
      synthConstruct((scope) => (source = new AppSource(scope, "source", { workspacePath: "/Shared/apps/x", sourceDir: dir })));
      return source!.contentHash;
    });
  const base = hash({ "app.yaml": "a", "src/x.js": "x" });
  assert.equal(base, contentHash([{ path: "app.yaml", content: Buffer.from("a") }, { path: "src/x.js", content: Buffer.from("x") }]));
  assert.notEqual(hash({ "app.yaml": "a", "src/x.js": "y" }), base, "an edit");
  assert.notEqual(hash({ "app.yaml": "a", "src/y.js": "x" }), base, "a rename");
  assert.equal(hash({ "app.yaml": "a", "src/x.js": "x", "src/x.test.js": "t", ".env": "SECRET=1" }), base, "excluded files");
});

test("file names are text to Terraform: template syntax in a name (a migration's too) is escaped in the keys and sources", () => {
  const names = [...TEMPLATE_PAYLOADS, "migrations/0003_${uuid()}.sql"];
  withTree(Object.fromEntries(names.map((name) => [name, name])), (dir) => {
    const upload = onlyResource(synthConstruct((scope) => new AppSource(scope, "source", { workspacePath: "/Shared/apps/x", sourceDir: dir })), FILE);
    const entries = Object.entries(upload.for_each as Record<string, { source: string }>).map(([key, file]) => [literalText(key), literalText(file.source)]);
    assert.deepEqual(entries.map(([key]) => key), appSourceFiles(dir));
    assert.deepEqual(entries.map(([key]) => key).sort(), [...names].sort());
    for (const [key, source] of entries) assert.ok(source?.endsWith(`/${key}`), `${key}: ${source}`);
  });
});

test("a file name holding a cdktf token encoding is refused, naming the file, without a stack trace", () => {
  withTree({ "app.yaml": "", "src/${TfToken[TOKEN.1]}.js": "" }, (dir) => {
    assert.throws(
      () => synthConstruct((scope) => new AppSource(scope, "source", { workspacePath: "/Shared/apps/x", sourceDir: dir })),
      (e) => e instanceof ConfigError && e.problems.length === 1 && e.problems[0].file.endsWith("src/${TfToken[TOKEN.1]}.js") && /^expected a file name without cdktf's token encoding/.test(e.problems[0].message),
    );
  });
});
