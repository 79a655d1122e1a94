import { test } from "node:test";
import assert from "node:assert/strict";
import type { DatabricksApp } from "../../../stacks/app/databricks-app";
import { addNagSuppression, GuardrailError, RULES } from "../../../stacks/guardrails/nag-pack";
import { EnvironmentInName } from "../../../stacks/guardrails/rules/environment-in-name";
import { ServingEndpointLeastPrivilege } from "../../../stacks/guardrails/rules/serving-endpoint-least-privilege";
import { environment, synthStack } from "../../support/synth";

test("rule ids are unique and stable in shape", () => {
  const ids = RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, ids.join(", "));
  for (const id of ids) assert.match(id, /^DBX-[A-Za-z]+$/);
});

test("every stack gets the pack: a violation is reported as `rule id: construct path: message`", () => {
  const { violations } = synthStack(
    environment({ servingEndpoints: [{ resourceName: "llm", name: "llm-endpoint", permission: "CAN_MANAGE" }] }),
  );
  assert.equal(violations.length, 1);
  assert.match(violations[0], /^DBX-ServingEndpointLeastPrivilege: test\/app\/Resource: .+ \(found: llm\)$/);
});

test("a suppression excuses only the finding it names, for its rule only", () => {
  const { violations } = synthStack(
    environment({
      app: { name: "notes-app", sourcePath: "/Shared/apps/notes-test" },
      servingEndpoints: [
        { resourceName: "llm", name: "llm-endpoint", permission: "CAN_MANAGE" },
        { resourceName: "tuner", name: "tuner-endpoint", permission: "CAN_MANAGE" },
      ],
    }),
    (stack) => {
      const app = (stack.node.findChild("app") as DatabricksApp).resource;
      addNagSuppression(app, { id: ServingEndpointLeastPrivilege.id, appliesTo: "tuner", reason: "tested" });
      addNagSuppression(app, {
        id: EnvironmentInName.id,
        appliesTo: "llm",
        reason: "names a finding of the other rule",
      });
    },
  );
  assert.deepEqual(violations, [
    `DBX-ServingEndpointLeastPrivilege: test/app/Resource: ${ServingEndpointLeastPrivilege.message} (found: llm)`,
    `DBX-EnvironmentInName: test/app/Resource: ${EnvironmentInName.message} (found: name=notes-app)`,
  ]);
});

test("a suppression needs a reason", () => {
  synthStack(environment(), (stack) => {
    const app = (stack.node.findChild("app") as DatabricksApp).resource;
    assert.throws(
      () => addNagSuppression(app, { id: ServingEndpointLeastPrivilege.id, appliesTo: "llm", reason: " " }),
      /expected a reason, found " "/,
    );
  });
});

test("GuardrailError lists one violation per line", () => {
  assert.equal(new GuardrailError(["A: x: m", "B: y: n"]).message, "guardrail violations (2):\n  A: x: m\n  B: y: n");
});
