import { test } from "node:test";
import assert from "node:assert/strict";
import { BACKEND, NagRuleCompliance } from "../../../stacks/guardrails/nag-rule";
import { ProductionRemoteState } from "../../../stacks/guardrails/rules/production-remote-state";
import { stateLocation } from "../../../stacks/state/state-backend";
import { environment, synthStack } from "../../support/synth";

const PROD = { name: "prod", production: true, file: "environments/prod.yaml" };
const DEV = { name: "dev", production: false, file: "environments/dev.yaml" };
const backend = (kind: string, settings: Record<string, unknown> = {}) => ({
  type: BACKEND,
  attributes: { [kind]: settings },
});
const messageFor = (environment: typeof PROD) =>
  typeof ProductionRemoteState.message === "string"
    ? ProductionRemoteState.message
    : ProductionRemoteState.message(environment);
/** The stack's top-level comment, where accepted findings are recorded (Testing.synth drops it). */
const recorded = (synthesized: { stack: { toTerraform(): unknown } }) =>
  (synthesized.stack.toTerraform() as { "//": Record<string, unknown> })["//"].guardrailSuppressions;

test("compliant: production state in a backend that locks", () => {
  for (const compliant of [
    backend("s3", { bucket: "b", key: "k", region: "eu-west-1", use_lockfile: true }),
    backend("s3", { bucket: "b", key: "k", region: "eu-west-1", dynamodb_table: "locks" }),
    backend("azurerm", { storage_account_name: "sa", container_name: "c", key: "k" }),
    backend("gcs", { bucket: "tf-state", prefix: "p" }),
    backend("remote", { organization: "acme", workspaces: { name: "w" } }),
  ]) {
    assert.equal(ProductionRemoteState.check(compliant, PROD), NagRuleCompliance.COMPLIANT, JSON.stringify(compliant));
  }
});

test("non-compliant: local state, s3 without a lock, or a backend kind not known to lock; the finding names it", () => {
  assert.deepEqual(
    ProductionRemoteState.check(backend("local", { path: "../../../terraform-state/prod.tfstate" }), PROD),
    ["local"],
  );
  assert.deepEqual(
    ProductionRemoteState.check(
      backend("s3", { bucket: "b", key: "k", region: "eu-west-1", use_lockfile: false }),
      PROD,
    ),
    ["s3 without a lock"],
  );
  assert.deepEqual(ProductionRemoteState.check(backend("http", { address: "https://state.example.com" }), PROD), [
    "http",
  ]);
});

test("not applicable: other environments and resources", () => {
  assert.equal(ProductionRemoteState.check(backend("local"), DEV), NagRuleCompliance.NOT_APPLICABLE);
  assert.equal(
    ProductionRemoteState.check({ type: "databricks_database_instance", attributes: {} }, PROD),
    NagRuleCompliance.NOT_APPLICABLE,
  );
});

test("the message names the environment's file and the fix", () => {
  assert.match(
    messageFor(PROD),
    /in environments\/prod\.yaml set backend to s3 .*azurerm, gcs or remote .*or give backend\.reason/,
  );
});

test("in a production stack: local state stops synthesis naming the file; a backend.reason accepts it", () => {
  const production = (backend: object) => environment({ production: true, backend });
  const { violations } = synthStack(production({ type: "local" }));
  assert.deepEqual(violations, [
    `DBX-ProductionRemoteState: test/backend: ${messageFor({ name: "test", production: true, file: "environments/test.yaml" })} (found: local)`,
  ]);

  const accepted = synthStack(production({ type: "local", reason: "lab workspace, state backed up nightly" }));
  assert.deepEqual(accepted.violations, []);
  assert.deepEqual(recorded(accepted), [
    {
      rule: "DBX-ProductionRemoteState",
      path: "test/backend",
      appliesTo: "local",
      reason: "lab workspace, state backed up nightly",
    },
  ]);

  const remote = synthStack(production({ type: "gcs", bucket: "tf-state", prefix: "notes/test" }));
  assert.deepEqual(remote.violations, []);
  assert.equal(recorded(remote), undefined);

  // Not production: nothing to accept, so nothing recorded.
  const notProduction = synthStack(environment({ backend: { type: "local", reason: "not needed here" } }));
  assert.deepEqual(notProduction.violations, []);
  assert.equal(recorded(notProduction), undefined);
});

test("in a production stack: the test-only local state override passes, recorded with its reason", () => {
  const config = environment({
    production: true,
    backend: { type: "s3", bucket: "tf-state", key: "k", region: "eu-west-1" },
  });
  const synthesized = synthStack(config, undefined, {
    state: stateLocation({ STACK_TEST_STATE_DIR: "/tmp/e2e-state" }),
  });
  assert.deepEqual(synthesized.violations, []);
  assert.deepEqual(recorded(synthesized), [
    {
      rule: "DBX-ProductionRemoteState",
      path: "test/backend",
      appliesTo: "local",
      reason: "test only: STACK_TEST_STATE_DIR replaces the s3 backend with local state",
    },
  ]);
});
