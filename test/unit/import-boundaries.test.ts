/**
 * The layers' import rules, read from the source: every import, `export … from`, dynamic import() and
 * require() specifier of every file under tools/ and stacks/ (and main.ts), found by TypeScript's own
 * pre-processor. A tool (tools/<tool>/) imports its own files, the shared library (tools/lib/), stacks/ and
 * packages, never another tool nor test/; the library never imports a tool nor test/; synth (stacks/,
 * main.ts) imports no tool, only the library.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { REPO_ROOT } from "../../stacks/repo-paths";

interface Edge {
  readonly from: string;
  readonly to: string;
}

/** Repository-relative, with `/`: the form the rules are written in. */
const repoPath = (absolute: string) => relative(REPO_ROOT, absolute).split(sep).join("/");

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(path);
    return e.isFile() && /\.(ts|cjs|mjs|js)$/.test(e.name) ? [path] : [];
  });
}

/** Every import of a file inside the repository, resolved to the file it names (`.ts` added when omitted). */
function edgesOf(file: string): Edge[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(REPO_ROOT, file), "utf8"), true, true);
  return importedFiles
    .map((i) => i.fileName)
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => {
      const target = repoPath(resolve(REPO_ROOT, dirname(file), specifier));
      return { from: file, to: /\.[cm]?[jt]s$/.test(target) ? target : `${target}.ts` };
    });
}

/** The tool a path belongs to (`tools/<tool>/…`), "lib" for the library, undefined outside tools/. */
function toolOf(path: string): string | undefined {
  return /^tools\/([^/]+)\//.exec(path)?.[1];
}

/** Why an import breaks the layering, or undefined when it does not. */
function crossing({ from, to }: Edge): string | undefined {
  if (to.startsWith("test/")) return "only tests import test/ (what a tool needs from it belongs in tools/lib/)";
  if (to.startsWith("app-src/")) return "app-src/ is the app's own package; only its tests import it";
  const fromTool = toolOf(from);
  const toTool = toolOf(to);
  if (!toTool || toTool === "lib") return undefined;
  if (fromTool === toTool) return undefined;
  // A benchmark measures the tool it is named after in-process (tools/bench/post-apply.ts → tools/post-apply/).
  if (fromTool === "bench" && from === `tools/bench/${toTool}.ts`) return undefined;
  if (fromTool === "lib") return "the shared library never imports a tool";
  if (fromTool) return `a tool never imports another tool's files; move what both need into tools/lib/`;
  return "synth (stacks/, main.ts) imports no tool, only the shared library";
}

const edges = ["tools", "stacks"].flatMap(sourceFiles).concat("main.ts").flatMap(edgesOf);

test("the scan sees the imports (a scan that found none would pass anything)", () => {
  for (const edge of [
    { from: "tools/drift/database.ts", to: "tools/lib/lakebase/access.ts" },
    { from: "stacks/post-apply/migrations.ts", to: "tools/lib/migration-folder.ts" },
    { from: "main.ts", to: "stacks/synthesize.ts" },
  ])
    assert.ok(
      edges.some((e) => e.from === edge.from && e.to === edge.to),
      `${edge.from} -> ${edge.to} not found`,
    );
});

test("no file under tools/ or stacks/ imports across a layer boundary", () => {
  const problems = edges
    .map((edge) => ({ edge, why: crossing(edge) }))
    .filter(({ why }) => why)
    .map(({ edge, why }) => `${edge.from} imports ${edge.to}: ${why}`);
  assert.deepEqual(problems, []);
});

test("each rule names the crossing it forbids", () => {
  const cases: [Edge, RegExp | undefined][] = [
    [{ from: "tools/drift/a.ts", to: "tools/post-apply/b.ts" }, /another tool/],
    [{ from: "tools/review/a.ts", to: "test/support/b.ts" }, /only tests import test/],
    [{ from: "tools/lib/a.ts", to: "tools/drift/b.ts" }, /library never imports a tool/],
    [{ from: "tools/lib/local/a.ts", to: "test/support/b.ts" }, /only tests import test/],
    [{ from: "stacks/a.ts", to: "tools/post-apply/b.ts" }, /synth .* imports no tool/],
    [{ from: "main.ts", to: "tools/review/b.ts" }, /synth .* imports no tool/],
    [{ from: "tools/bench/deploy.ts", to: "tools/post-apply/b.ts" }, /another tool/],
    [{ from: "stacks/a.ts", to: "app-src/src/b.ts" }, /app's own package/],
    [{ from: "tools/drift/a.ts", to: "tools/drift/b.ts" }, undefined],
    [{ from: "tools/drift/a.ts", to: "tools/lib/lakebase/b.ts" }, undefined],
    [{ from: "tools/lib/local/a.ts", to: "stacks/config/b.ts" }, undefined],
    [{ from: "stacks/a.ts", to: "tools/lib/b.ts" }, undefined],
    [{ from: "tools/bench/post-apply.ts", to: "tools/post-apply/b.ts" }, undefined],
  ];
  for (const [edge, expected] of cases) {
    const why = crossing(edge);
    if (expected) assert.match(why ?? "(allowed)", expected, `${edge.from} -> ${edge.to}`);
    else assert.equal(why, undefined, `${edge.from} -> ${edge.to}`);
  }
});
