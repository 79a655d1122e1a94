/**
 * The PR comment quotes configuration values; whatever they hold, they stay quoted. Rendered the way GitHub
 * renders a comment (GFM, HTML allowed) and the graph parsed by Mermaid's own parser.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { JSDOM } from "jsdom";
import { micromark } from "micromark";
import { gfm, gfmHtml } from "micromark-extension-gfm";
import { markdown } from "../../tools/review/markdown";
import { type Report, review } from "../../tools/review/report";
import type { StackJson, SynthesizedTree } from "../../tools/review/trees";
import { terraformLiteral } from "../../stacks/config/terraform-literal";
import { mermaidParser } from "../support/mermaid";

/** Breaks out of a code block, a table cell and inline code, embeds an image, links, mentions, emphasises. */
const HOSTILE =
  'x\n```\n</code></details><img src=x onerror=alert(1)> [click](https://evil.example) www.evil.example a@evil.example *bold* `tick` | cell %%{init: {"theme": "dark"}}%% #1 \\\r\u2028end';
/** How a reviewer must see it: literally, line breaks as spaces. */
const SHOWN = HOSTILE.replace(/[\r\n\u2028]/g, " ");

/** The stack synthesis would write for these values (each written as a Terraform literal, as synthesis does). */
function stack(...values: [description: string, instanceName: string, scope: string]): StackJson {
  const [description, instanceName, scope] = values.map(terraformLiteral);
  return {
    resource: {
      databricks_database_instance: { lakebase_instance: { name: instanceName, capacity: "CU_1" } },
      databricks_secret_scope: { secrets: { name: scope } },
      databricks_app: {
        app: {
          name: "notes-dev",
          description,
          resources: [
            {
              name: "database",
              database: { instance_name: instanceName, database_name: "notes", permission: "CAN_CONNECT_AND_CREATE" },
            },
          ],
        },
      },
    },
  };
}

function tree(stackJson: StackJson): SynthesizedTree {
  // Nothing on disk: no migrations and no app source to compare, which the review then reports as unchanged.
  return {
    root: "/nonexistent/tree",
    outDir: "/nonexistent/out",
    stacks: new Map([["dev", stackJson]]),
    dispose: () => {},
  };
}

const report: Report = review(
  tree(stack("old", "notes-dev", "notes-dev")),
  tree(stack(HOSTILE, `notes-dev ${HOSTILE}`, `scope ${HOSTILE}`)),
  { base: "main", head: "working tree" },
);

function render(md: string): Document {
  return new JSDOM(micromark(md, { allowDangerousHtml: true, extensions: [gfm()], htmlExtensions: [gfmHtml()] })).window
    .document;
}

test("a value with a line break and three backticks stays inside the Mermaid block, which parses", async (t: TestContext) => {
  const document = render(markdown(report));
  const blocks = [...document.querySelectorAll("pre > code")];
  assert.deepEqual(
    blocks.map((b) => b.className),
    ["language-mermaid"],
  );
  const [{ graph }] = report.environments;
  assert.equal(blocks[0].textContent, `${graph}\n`, "the block holds the whole graph and nothing else");
  assert.ok(
    graph.split("\n").every((line) => !line.startsWith("`") && !line.startsWith("%%")),
    graph,
  );

  const parse = await mermaidParser(t);
  assert.equal((await parse(graph)).diagramType, "flowchart-v2");
  assert.match(
    graph,
    /n\d+\[\("Lakebase instance notes-dev x #96;#96;#96; #60;\/code#62;#60;\/details#62;#60;img src=x onerror=alert\(1\)#62; .* #37;#37;\{init: \{#34;theme#34;: #34;dark#34;\}\}#37;#37; #35;1 \\ {2}end \(update\)"\)\]/,
  );
});

test("values in tables, the banner and the attribute diffs are shown literally: no image, link, emphasis or extra cell", () => {
  const document = render(markdown(report));
  assert.deepEqual(
    [...document.querySelectorAll("img, a, em, del")].map((e) => e.outerHTML),
    [],
  );
  assert.deepEqual(
    [...document.querySelectorAll("strong")].filter((s) => s.textContent === "bold"),
    [],
  );
  // The description's before → after row, one cell each, the value as it is.
  const rows = [...document.querySelectorAll("tr")].map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent),
  );
  assert.ok(
    rows.some((cells) => cells.length === 3 && cells[0] === "description" && cells[1] === "old" && cells[2] === SHOWN),
    JSON.stringify(rows, null, 1),
  );
  // Names in the change table, and the replaced secret scope's in the banner.
  assert.ok(
    rows.some((cells) => cells.length === 4 && cells[0] === "update" && cells[2] === `notes-dev ${SHOWN}`),
    JSON.stringify(rows, null, 1),
  );
  assert.ok(rows.some((cells) => cells.length === 4 && cells[0] === "replace" && cells[2] === `scope ${SHOWN}`));
  const banner = [...document.querySelectorAll("blockquote li")].map((li) => li.textContent);
  assert.ok(
    banner.some((text) => text.includes(`(scope ${SHOWN}): name changes force replacement`)),
    JSON.stringify(banner),
  );
  // Two collapsed sections (attribute changes, graph), both closed where they should be.
  assert.deepEqual(
    [...document.querySelectorAll("details > summary")].map((s) => s.textContent),
    ["Attribute changes (3 resources)", "Resources and bindings"],
  );
});

test("a comment cut to its limit keeps whole lines: the note is not swallowed by a cell or inline code", () => {
  let truncated = 0;
  // Every few characters, so that cuts fall inside table rows, inline code and entities.
  for (let limit = 400; limit < 1_800; limit += 13) {
    const cut = markdown(report, limit);
    assert.ok(cut.length <= limit, `${limit}: ${cut.length} characters`);
    if (!cut.includes("**Output truncated")) continue;
    truncated++;
    const html = micromark(cut, { allowDangerousHtml: true, extensions: [gfm()], htmlExtensions: [gfmHtml()] });
    const before = html.slice(0, html.indexOf(`<strong>Output truncated at ${limit} characters</strong>`));
    assert.ok(before.length > 0, `${limit}: no note in\n${cut}`);
    for (const tag of ["code", "td", "blockquote", "table"]) {
      assert.equal(
        before.split(`<${tag}`).length,
        before.split(`</${tag}>`).length,
        `${limit}: the note is inside <${tag}>:\n${cut}`,
      );
    }
  }
  assert.ok(truncated > 40, `only ${truncated} limits needed a cut`);
});
