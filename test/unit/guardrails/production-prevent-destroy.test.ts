import { test } from "node:test";
import assert from "node:assert/strict";
import type { LakebaseDatabase } from "../../../stacks/lakebase/lakebase-database";
import { NagRuleCompliance } from "../../../stacks/guardrails/nag-rule";
import { ProductionPreventDestroy } from "../../../stacks/guardrails/rules/production-prevent-destroy";
import { environment, synthStack } from "../../support/synth";

const PROD = { name: "prod", production: true, file: "environments/prod.yaml" };
const DEV = { name: "dev", production: false, file: "environments/dev.yaml" };
const protectedInstance = {
  type: "databricks_database_instance",
  attributes: { name: "notes-prod", lifecycle: { prevent_destroy: true } },
};

test("compliant: a production instance or catalog with prevent_destroy", () => {
  assert.equal(ProductionPreventDestroy.check(protectedInstance, PROD), NagRuleCompliance.COMPLIANT);
  assert.equal(
    ProductionPreventDestroy.check(
      { type: "databricks_database_database_catalog", attributes: { lifecycle: { prevent_destroy: true } } },
      PROD,
    ),
    NagRuleCompliance.COMPLIANT,
  );
});

test("non-compliant: a production instance or catalog without it", () => {
  assert.equal(
    ProductionPreventDestroy.check({ type: "databricks_database_instance", attributes: { name: "notes-prod" } }, PROD),
    NagRuleCompliance.NON_COMPLIANT,
  );
  assert.equal(
    ProductionPreventDestroy.check(
      { type: "databricks_database_database_catalog", attributes: { lifecycle: { prevent_destroy: false } } },
      PROD,
    ),
    NagRuleCompliance.NON_COMPLIANT,
  );
});

test("not applicable: other environments and other resource types", () => {
  assert.equal(
    ProductionPreventDestroy.check({ type: "databricks_database_instance", attributes: {} }, DEV),
    NagRuleCompliance.NOT_APPLICABLE,
  );
  assert.equal(
    ProductionPreventDestroy.check({ type: "databricks_app", attributes: {} }, PROD),
    NagRuleCompliance.NOT_APPLICABLE,
  );
});

test("in a production stack: compliant as built, and a removed protection stops synthesis", () => {
  // Production state is remote (DBX-ProductionRemoteState), so only this rule can fail here.
  const production = { production: true, backend: { type: "gcs", bucket: "tf-state", prefix: "notes/test" } };
  assert.deepEqual(synthStack(environment(production)).violations, []);
  const { violations } = synthStack(environment(production), (stack) =>
    (stack.node.findChild("lakebase") as LakebaseDatabase).instance.addOverride("lifecycle.prevent_destroy", false),
  );
  assert.deepEqual(violations, [
    `DBX-ProductionPreventDestroy: test/lakebase/instance: ${ProductionPreventDestroy.message}`,
  ]);
});
