import { test } from "node:test";
import assert from "node:assert/strict";
import { Secret } from "@cdktf/provider-databricks/lib/secret";
import { NagRuleCompliance } from "../../../stacks/guardrails/nag-rule";
import { NoInlineSecretValue } from "../../../stacks/guardrails/rules/no-inline-secret-value";
import { environment, synthStack } from "../../support/synth";

const DEV = { name: "dev", production: false, file: "environments/dev.yaml" };
const secret = (stringValue: unknown) => ({
  type: "databricks_secret",
  attributes: { scope: "notes-dev", key: "k", string_value: stringValue },
});

test("compliant: the value is a variable reference", () => {
  assert.equal(NoInlineSecretValue.check(secret("${var.secret_api_key}"), DEV), NagRuleCompliance.COMPLIANT);
});

test("non-compliant: a literal, a literal around a reference, or no value", () => {
  for (const value of [
    "hunter2",
    "prefix-${var.secret_api_key}",
    "${var.secret_api_key}-suffix",
    "${local.key}",
    undefined,
  ]) {
    assert.equal(NoInlineSecretValue.check(secret(value), DEV), NagRuleCompliance.NON_COMPLIANT, String(value));
  }
});

test("not applicable: other resource types", () => {
  assert.equal(
    NoInlineSecretValue.check({ type: "databricks_secret_scope", attributes: { name: "literal" } }, DEV),
    NagRuleCompliance.NOT_APPLICABLE,
  );
});

test("in a stack: the built secrets comply, and a secret with an inline value stops synthesis", () => {
  assert.deepEqual(synthStack().violations, []);
  const { violations } = synthStack(
    environment(),
    (stack) => new Secret(stack, "inline", { scope: "notes-test", key: "k", stringValue: "hunter2" }),
  );
  assert.deepEqual(violations, [`DBX-NoInlineSecretValue: test/inline: ${NoInlineSecretValue.message}`]);
});
