/**
 * `terraformLiteral` against Terraform itself: generated strings made of the characters templates care about,
 * escaped, come back from `terraform apply` exactly as written, as values and as object keys. (The unit
 * tests check the same with `literalText`; this checks that model of Terraform's templates.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { terraformLiteral } from "../../stacks/config/terraform-literal";
import { TEMPLATE_PAYLOADS } from "../support/synth";
import { terraform } from "../support/terraform";

function generated(count: number): string[] {
  let seed = 1301;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const alphabet = ["$", "$", "%", "%", "{", "}", "a", "\\", '"', "\n", "~"];
  const texts = new Set<string>([...TEMPLATE_PAYLOADS, "$${x}", "%%{x}", "$$$${", "$", "%", ""]);
  while (texts.size < count)
    texts.add(Array.from({ length: 1 + (next() % 10) }, () => alphabet[next() % alphabet.length]).join(""));
  return [...texts];
}

test("escaped text evaluates to itself in Terraform, as values and as object keys", () => {
  const texts = generated(400);
  const dir = mkdtempSync(join(tmpdir(), "literal-text-"));
  try {
    const escaped = texts.map(terraformLiteral);
    const stack = {
      output: {
        values: { value: escaped },
        keys: { value: Object.fromEntries(escaped.map((text, i) => [text, i])) },
      },
    };
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify(stack));
    terraform(dir, ["init", "-input=false", "-no-color"]);
    terraform(dir, ["apply", "-auto-approve", "-input=false", "-no-color"]);
    const outputs = JSON.parse(terraform(dir, ["output", "-json"]).stdout) as {
      values: { value: string[] };
      keys: { value: Record<string, number> };
    };
    assert.deepEqual(outputs.values.value, texts);
    assert.deepEqual(
      Object.entries(outputs.keys.value)
        .map(([key, i]) => [key, texts[i]])
        .filter(([key, text]) => key !== text),
      [],
    );
    assert.equal(Object.keys(outputs.keys.value).length, texts.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
