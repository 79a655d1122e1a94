import { test } from "node:test";
import assert from "node:assert/strict";
import type { TerraformResource } from "../../../stacks/cdktf";
import { NagRuleCompliance } from "../../../stacks/guardrails/nag-rule";
import { ServingEndpointLeastPrivilege } from "../../../stacks/guardrails/rules/serving-endpoint-least-privilege";
import { environment, synthStack } from "../../support/synth";

const DEV = { name: "dev", production: false, file: "environments/dev.yaml" };
const app = (...resources: object[]) => ({ type: "databricks_app", attributes: { name: "notes-dev", resources } });
const endpoint = (name: string, permission: string) => ({
  name,
  serving_endpoint: { name: `${name}-endpoint`, permission },
});

test("compliant: query or view bindings, or no bindings at all", () => {
  assert.equal(
    ServingEndpointLeastPrivilege.check(app(endpoint("llm", "CAN_QUERY"), endpoint("docs", "CAN_VIEW")), DEV),
    NagRuleCompliance.COMPLIANT,
  );
  assert.equal(
    ServingEndpointLeastPrivilege.check({ type: "databricks_app", attributes: { name: "notes-dev" } }, DEV),
    NagRuleCompliance.COMPLIANT,
  );
});

test("non-compliant: one finding per CAN_MANAGE binding, by resource key", () => {
  const other = { name: "warehouse", sql_warehouse: { id: "1", permission: "CAN_MANAGE" } };
  assert.deepEqual(
    ServingEndpointLeastPrivilege.check(
      app(endpoint("llm", "CAN_MANAGE"), other, endpoint("tuner", "CAN_MANAGE")),
      DEV,
    ),
    ["llm", "tuner"],
  );
});

test("a permission or a list of bindings only Terraform can work out is a finding, not a pass", () => {
  assert.deepEqual(
    ServingEndpointLeastPrivilege.check(app(endpoint("llm", "${var.permission}"), endpoint("docs", "CAN_QUERY")), DEV),
    ['llm.permission="${var.permission}" (a Terraform expression: cannot be checked)'],
  );
  // Escaped text is literal: what Terraform sends is the name itself, which the API refuses, but it is not CAN_MANAGE.
  assert.deepEqual(
    ServingEndpointLeastPrivilege.check(app(endpoint("llm", "CAN_$${x}")), DEV),
    NagRuleCompliance.COMPLIANT,
  );
  assert.deepEqual(
    ServingEndpointLeastPrivilege.check(
      { type: "databricks_app", attributes: { name: "notes-dev", resources: "${local.bindings}" } },
      DEV,
    ),
    ['resources="${local.bindings}" (a Terraform expression: cannot be checked)'],
  );
});

test("in a stack: a permission set by an expression stops synthesis, and says it cannot be checked", () => {
  const { violations } = synthStack(environment(), (stack) => {
    const app = stack.node.findAll().find((c) => c.node.path === "test/app/Resource") as TerraformResource;
    // The bindings in order: the database, the secret, the endpoint.
    app.addOverride("resources.2.serving_endpoint.permission", "${var.endpoint_permission}");
  });
  assert.deepEqual(violations, [
    `DBX-ServingEndpointLeastPrivilege: test/app/Resource: ${ServingEndpointLeastPrivilege.message} ` +
      '(found: llm.permission="${var.endpoint_permission}" (a Terraform expression: cannot be checked))',
  ]);
});

test("not applicable: other resource types", () => {
  assert.equal(
    ServingEndpointLeastPrivilege.check({ type: "databricks_permissions", attributes: {} }, DEV),
    NagRuleCompliance.NOT_APPLICABLE,
  );
});

test("in a stack: CAN_MANAGE without a reason stops synthesis; a reason suppresses that binding only", () => {
  const manage = (resourceName: string, reason?: string) => ({
    resourceName,
    name: `${resourceName}-endpoint`,
    permission: "CAN_MANAGE",
    reason,
  });
  assert.deepEqual(
    synthStack(environment({ servingEndpoints: [manage("tuner", "adjusts traffic between model versions")] }))
      .violations,
    [],
  );

  const { violations } = synthStack(
    environment({ servingEndpoints: [manage("tuner", "adjusts traffic between model versions"), manage("llm")] }),
  );
  assert.deepEqual(violations, [
    `DBX-ServingEndpointLeastPrivilege: test/app/Resource: ${ServingEndpointLeastPrivilege.message} (found: llm)`,
  ]);
});
