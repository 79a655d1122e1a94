/**
 * `npm run synth` (and cdktf.json's app) run main.ts precompiled by tools/build/run.cjs: the output is what
 * the TypeScript source writes, and an edit is never missed (the bundle and its code cache are rebuilt).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { copyProject, type ProjectCopy } from "../../tools/lib/local/project";

type After = { after: (fn: () => void) => void };

/** The synthesized stacks under `outdir`, by name. */
function stacks(outdir: string): Record<string, string> {
  const dir = join(outdir, "stacks");
  return Object.fromEntries(
    readdirSync(dir).map((name) => [name, readFileSync(join(dir, name, "cdk.tf.json"), "utf8")]),
  );
}

function run(cwd: string, command: string, args: string[], outdir: string) {
  const result = spawnSync(command, args, { cwd, env: { ...process.env, CDKTF_OUTDIR: outdir }, encoding: "utf8" });
  assert.equal(result.status, 0, `${command} ${args.join(" ")}: ${result.stderr}`);
  return result;
}

function outdir(t: After, parent: string): string {
  const dir = mkdtempSync(join(parent, "out-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function copy(t: After): ProjectCopy {
  const project = copyProject({});
  t.after(() => project.remove());
  return project;
}

const synth = (project: ProjectCopy, out: string) =>
  run(project.dir, process.execPath, ["tools/build/run.cjs", "main.ts"], out);
const bundle = (project: ProjectCopy) => join(project.dir, ".build", "main.js");

test("npm run synth writes exactly what main.ts run from source writes", (t) => {
  const parent = mkdtempSync(join(tmpdir(), "precompiled-"));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const [fromSource, precompiled] = [outdir(t, parent), outdir(t, parent)];
  run(REPO_ROOT, process.execPath, ["--import", "tsx", "main.ts"], fromSource);
  run(REPO_ROOT, "npm", ["run", "--silent", "synth"], precompiled);
  assert.deepEqual(stacks(precompiled), stacks(fromSource));
});

test("an edited source is rebuilt before it runs; nothing edited, nothing rebuilt", (t) => {
  const project = copy(t);
  const out = outdir(t, tmpdir());
  synth(project, out);
  const built = statSync(bundle(project)).mtimeMs;
  synth(project, out);
  assert.equal(statSync(bundle(project)).mtimeMs, built, "rebuilt with nothing changed");

  project.edit("stacks/app-stack.ts", (text) =>
    text.replace(`description: "The app's URL"`, `description: "The app's URL, edited"`),
  );
  synth(project, out);
  assert.match(stacks(out).dev, /"The app's URL, edited"/);
});

test("a code cache made from another bundle of the same length is not used", (t) => {
  const project = copy(t);
  const out = outdir(t, tmpdir());
  synth(project, out); // builds the bundle; the run makes its code cache
  synth(project, out); // runs from that cache
  const length = statSync(bundle(project)).size;
  // Same length, other behaviour: V8's own check of a cache compares lengths only.
  project.edit("stacks/app-stack.ts", (text) =>
    text.replace(`description: "The app's URL"`, `description: "The app's URI"`),
  );
  synth(project, out);
  assert.equal(statSync(bundle(project)).size, length);
  assert.match(stacks(out).dev, /"The app's URI"/);
});

test("an entry point outside the repository or not TypeScript is refused in one line", () => {
  for (const entry of ["/etc/passwd", "package.json"]) {
    const result = spawnSync(process.execPath, ["tools/build/run.cjs", entry], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /expected a \.ts file of this repository/);
  }
});
