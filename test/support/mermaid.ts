/** Mermaid's own parser under Node, for tests of the graphs the review draws. */
import type { TestContext } from "node:test";
import { JSDOM } from "jsdom";

/** The parser, with the DOM it needs (DOMPurify) provided by jsdom for the rest of test `t`. */
export async function mermaidParser(t: TestContext): Promise<(graph: string) => Promise<{ diagramType: string }>> {
  const dom = new JSDOM("<!doctype html><html><body></body></html>");
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  t.after(() => {
    Reflect.deleteProperty(globalThis, "window");
    Reflect.deleteProperty(globalThis, "document");
  });
  const { default: mermaid } = await import("mermaid");
  return (graph) => mermaid.parse(graph) as Promise<{ diagramType: string }>;
}
