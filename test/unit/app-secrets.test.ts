import { test } from "node:test";
import assert from "node:assert/strict";
import { AppSecrets } from "../../stacks/secrets/app-secrets";
import { addressOf, onlyResource, resources, synthConstruct } from "../support/synth";

const synthSecrets = (keys: string[]) =>
  synthConstruct((scope) => new AppSecrets(scope, "secrets", { scope: "notes-test", keys }));

test("one scope, and per key a secret whose value is a reference to a sensitive variable without a default", () => {
  const json = synthSecrets(["api-key", "Signing.Key"]);
  const scope = onlyResource(json, "databricks_secret_scope");
  assert.equal(scope.name, "notes-test");

  const secrets = Object.values(resources(json, "databricks_secret"));
  assert.deepEqual(secrets.map((s) => [s.key, s.scope, s.string_value]).sort(), [
    ["Signing.Key", `\${${addressOf(json, "databricks_secret_scope")}.name}`, "${var.secret_signing_key}"],
    ["api-key", `\${${addressOf(json, "databricks_secret_scope")}.name}`, "${var.secret_api_key}"],
  ]);
  for (const name of ["secret_api_key", "secret_signing_key"]) {
    const variable = json.variable?.[name];
    assert.ok(variable, `variable ${name} missing: ${JSON.stringify(json.variable)}`);
    assert.equal(variable.sensitive, true, name);
    assert.equal(variable.type, "string", name);
    assert.equal("default" in variable, false, `${name} must have no default`);
    assert.match(variable.description, new RegExp(`TF_VAR_${name}`));
  }
});

test("a scope without keys is refused", () => {
  assert.throws(() => synthSecrets([]), /secret scope "notes-test": expected at least one key, found none/);
});

test("keys that cannot be construct names next to the scope are refused by name, not by a constructs error", () => {
  for (const key of ["scope", "constructor", "toString", "__proto__", "hasOwnProperty"]) {
    assert.throws(
      () => synthSecrets(["api-key", key]),
      new RegExp(`secret scope "notes-test": expected keys other than .*, found ${key}$`),
      key,
    );
  }
});

test("a key named like another key's variable construct (x and x-value) is fine: ids never meet", () => {
  const json = synthSecrets(["x", "x-value"]);
  assert.deepEqual(
    Object.values(resources(json, "databricks_secret"))
      .map((s) => s.key)
      .sort(),
    ["x", "x-value"],
  );
  assert.deepEqual(Object.keys(json.variable ?? {}).sort(), ["secret_x", "secret_x_value"]);
});
