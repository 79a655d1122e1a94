import { test } from "node:test";
import assert from "node:assert/strict";
import { NagRuleCompliance } from "../../../stacks/guardrails/nag-rule";
import { EnvironmentInName } from "../../../stacks/guardrails/rules/environment-in-name";
import { environment, synthStack } from "../../support/synth";

const env = (name: string) => ({ name, production: false, file: `environments/${name}.yaml` });
const named = (type: string, attributes: Record<string, unknown>) => ({ type, attributes });

test("compliant: the environment name is a word of the name, whatever the separator", () => {
  for (const [type, attributes, environmentName] of [
    ["databricks_app", { name: "notes-dev" }, "dev"],
    ["databricks_database_instance", { name: "dev-notes" }, "dev"],
    ["databricks_database_database_catalog", { name: "notes_eu_prod" }, "eu-prod"],
    ["databricks_secret_scope", { name: "notes.staging" }, "staging"],
    ["databricks_directory", { path: "/Shared/apps/dev/notes" }, "dev"],
  ] as const) {
    assert.equal(
      EnvironmentInName.check(named(type, attributes), env(environmentName)),
      NagRuleCompliance.COMPLIANT,
      `${type} ${JSON.stringify(attributes)}`,
    );
  }
});

test("non-compliant: missing, or only part of a word; the finding names the value", () => {
  assert.deepEqual(EnvironmentInName.check(named("databricks_app", { name: "notes" }), env("dev")), ["name=notes"]);
  assert.deepEqual(EnvironmentInName.check(named("databricks_app", { name: "notes-devel" }), env("dev")), [
    "name=notes-devel",
  ]);
  assert.deepEqual(
    EnvironmentInName.check(named("databricks_database_database_catalog", { name: "notesdev" }), env("dev")),
    ["name=notesdev"],
  );
  assert.deepEqual(EnvironmentInName.check(named("databricks_directory", { path: "/Shared/apps/notes" }), env("dev")), [
    "path=/Shared/apps/notes",
  ]);
});

test("not applicable: other types", () => {
  assert.equal(
    EnvironmentInName.check(named("databricks_secret", { key: "api-key" }), env("dev")),
    NagRuleCompliance.NOT_APPLICABLE,
  );
});

test("a name only Terraform can work out is a finding, not a pass, even when it mentions the environment", () => {
  for (const name of ["${var.app_name}", "notes-dev-${var.suffix}", "notes-dev%{if true}x%{endif}"]) {
    assert.deepEqual(EnvironmentInName.check(named("databricks_app", { name }), env("dev")), [
      `name=${JSON.stringify(name)} (a Terraform expression: cannot be checked)`,
    ]);
  }
  assert.deepEqual(EnvironmentInName.check(named("databricks_directory", {}), env("dev")), [
    "path=undefined (a Terraform expression: cannot be checked)",
  ]);
});

test("escaped text is read as the literal Terraform will use", () => {
  // `$${` is Terraform's escape for a literal `${`: the name below is the text "notes-dev${x}", which names dev.
  assert.equal(
    EnvironmentInName.check(named("databricks_app", { name: "notes-dev$${x}" }), env("dev")),
    NagRuleCompliance.COMPLIANT,
  );
  assert.deepEqual(
    EnvironmentInName.check(named("databricks_directory", { path: '/Shared/apps/notes-prod$${""}' }), env("dev")),
    ['path=/Shared/apps/notes-prod${""}'],
  );
});

test('the bypass `/Shared/apps/notes-prod${""}` as dev\'s source path stops synthesis', () => {
  const { violations } = synthStack(environment({ app: { sourcePath: '/Shared/apps/notes-prod${""}' } }, "dev"));
  assert.ok(
    violations.includes(
      `DBX-EnvironmentInName: dev/source/directory: ${EnvironmentInName.message} (found: path=/Shared/apps/notes-prod\${""})`,
    ),
    violations.join("\n"),
  );
});

test("in a stack: the fixture complies, and names without the environment stop synthesis, one line each", () => {
  assert.deepEqual(synthStack().violations, []);
  const { violations } = synthStack(
    environment({ app: { name: "notes-app", sourcePath: "/Shared/apps/notes" }, secrets: { scope: "notes" } }),
  );
  assert.deepEqual([...violations].sort(), [
    `DBX-EnvironmentInName: test/app/Resource: ${EnvironmentInName.message} (found: name=notes-app)`,
    `DBX-EnvironmentInName: test/secrets/scope: ${EnvironmentInName.message} (found: name=notes)`,
    `DBX-EnvironmentInName: test/source/directory: ${EnvironmentInName.message} (found: path=/Shared/apps/notes)`,
  ]);
});
