/**
 * The checks a review comment's Markdown must pass, whichever mode wrote it: it parses as GitHub-flavoured
 * Markdown with every table a table, and every Mermaid block parses with Mermaid's own parser.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { JSDOM } from "jsdom";
import { micromark } from "micromark";
import { gfm, gfmHtml } from "micromark-extension-gfm";
import { mermaidParser } from "./mermaid";

/** The comment as GitHub renders it (raw HTML allowed, as in comments); fails if a table was left unparsed. */
export function renderGfm(md: string): Document {
  const html = micromark(md, { allowDangerousHtml: true, extensions: [gfm()], htmlExtensions: [gfmHtml()] });
  assert.ok(!html.includes("| --- |"), "a table was left unparsed");
  return new JSDOM(html).window.document;
}

/** Each table's header cells, in order. */
export function tableHeaders(document: Document): string[][] {
  return [...document.querySelectorAll("table")].map((table) =>
    [...table.querySelectorAll("th")].map((th) => th.textContent ?? ""),
  );
}

/** The text of every body row of every table, cells joined by tabs. */
export function tableRows(document: Document): string[] {
  return [...document.querySelectorAll("tr")]
    .map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent).join("\t"))
    .filter(Boolean);
}

/** Every ```mermaid block of `md`, each checked with Mermaid's parser (a flowchart); returns their sources. */
export async function parseMermaidBlocks(t: TestContext, md: string): Promise<string[]> {
  const parse = await mermaidParser(t);
  await assert.rejects(parse('graph LR\n  n0["unterminated -->'), "the parser does reject a broken graph");
  const graphs = [...md.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1]);
  for (const graph of graphs) assert.equal((await parse(graph)).diagramType, "flowchart-v2", graph);
  return graphs;
}
