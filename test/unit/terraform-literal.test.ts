import { test } from "node:test";
import assert from "node:assert/strict";
import { App, TerraformStack, Token, Tokenization, DefaultTokenResolver, StringConcat } from "../../stacks/cdktf";
import { cdktfTokenIn, literalText, terraformLiteral, terraformLiterals } from "../../stacks/config/terraform-literal";
import { TEMPLATE_PAYLOADS } from "../support/synth";

test("terraformLiteral escapes interpolations and directives; literalText reads the escaped text back", () => {
  assert.equal(terraformLiteral('${file("/etc/passwd")}'), '$${file("/etc/passwd")}');
  assert.equal(terraformLiteral("%{if true}x%{endif}"), "%%{if true}x%%{endif}");
  assert.equal(terraformLiteral("100%{"), "100%%{");
  // Already-escaped looking text is text too: Terraform must see both dollars.
  assert.equal(terraformLiteral("$${x}"), "$$${x}");
  for (const text of [...TEMPLATE_PAYLOADS, "$${x}", "$$${x}", "$", "%", "${", "%{", "$%{", "%${", "}{", "plain", ""]) {
    assert.equal(literalText(terraformLiteral(text)), text, JSON.stringify(text));
  }
});

test("literalText round-trips any text made of the characters that matter", () => {
  // Deterministic pseudo-random strings over the template alphabet (a fixed seed: a failure reproduces).
  let seed = 13;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const alphabet = ["$", "%", "{", "}", "a", "\\", '"'];
  for (let n = 0; n < 2000; n++) {
    const text = Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]).join("");
    assert.equal(literalText(terraformLiteral(text)), text, JSON.stringify(text));
  }
});

test("literalText: a template that interpolates or has a directive has no literal text", () => {
  for (const template of ["${var.x}", "a-${var.x}", "%{if true}x%{endif}", "x${var.x}y", "100%{"])
    assert.equal(literalText(template), undefined, template);
  assert.equal(literalText('/Shared/apps/notes-prod$${""}'), '/Shared/apps/notes-prod${""}');
});

test("terraformLiterals escapes every string of a structure, mapping keys included, and keeps the rest", () => {
  assert.deepEqual(terraformLiterals({ a: "${x}", n: 1, b: true, list: ["%{y}", null], tags: { "${k}": "v" } }), {
    a: "$${x}",
    n: 1,
    b: true,
    list: ["%%{y}", null],
    tags: { "$${k}": "v" },
  });
});

/** A string as cdktf resolves it in a stack (what synthesis would write). */
function resolved(text: string): unknown {
  const stack = new TerraformStack(new App(), "s");
  return Tokenization.resolve(text, {
    scope: stack,
    preparing: false,
    resolver: new DefaultTokenResolver(new StringConcat()),
  });
}

test("cdktfTokenIn finds each of cdktf's token encodings, which synthesis would otherwise replace", () => {
  // What a reference to the secret's variable looks like inside cdktf, once created.
  const reference = {
    creationStack: [],
    resolve: () => "${var.secret_session_signing_key}",
    toString: () => "reference",
  };
  const secret = Token.asString(reference);
  const number = Token.asNumber(reference);
  const encodings = {
    string: `before ${secret} after`,
    list: Token.asList(reference)[0],
    map: Object.keys(Token.asStringMap(reference))[0],
    number: `x ${number} y`,
    "map value": "Any Map Token Value",
  };
  // The premise: cdktf does not pass these through (it substitutes the token, or fails).
  assert.equal(resolved(encodings.string), "before ${var.secret_session_signing_key} after");
  assert.equal(resolved(encodings.number), "x ${var.secret_session_signing_key} y");
  assert.throws(() => resolved(encodings["map value"]));
  for (const [kind, text] of Object.entries(encodings)) {
    assert.notEqual(cdktfTokenIn(text), undefined, `${kind}: ${text}`);
    assert.throws(() => terraformLiteral(text), /cdktf would replace/, kind);
  }
});

test("cdktfTokenIn leaves ordinary text alone, numbers and template syntax included", () => {
  for (const text of [...TEMPLATE_PAYLOADS, "1e5", "-1.5e+300", "TfToken", "{TfToken[", "Map Token Value", "v1.2e3"]) {
    assert.equal(cdktfTokenIn(text), undefined, text);
    assert.equal(resolved(terraformLiteral(text)), terraformLiteral(text), `cdktf changed ${text}`);
  }
});
