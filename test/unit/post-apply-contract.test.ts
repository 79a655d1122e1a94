/**
 * The post-apply contract end to end: what a synthesized stack's post-apply and release steps set in their
 * `local-exec` environment, evaluated as Terraform would, is what the runner's parser reads back, field by
 * field what the environment's YAML says; and the runner's README lists exactly the contract's variables.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sourcePath } from "../../stacks/config/cross-checks";
import { loadEnvironments } from "../../stacks/config/load-environments";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { appSourceSha256 } from "../../stacks/source/app-source-files";
import {
  APPLY_VARIABLES,
  type ApplyStepInputs,
  inputsFromApplyEnvironment,
  inputsFromEnvironmentConfig,
  POST_APPLY_COMMAND,
  RELEASE_COMMAND,
  RELEASE_VARIABLES,
  type ReleaseStepInputs,
  releaseInputsFromEnvironment,
  TEST_ONLY_VARIABLES,
} from "../../tools/lib/post-apply-inputs";
import {
  type Attributes,
  environment,
  FIXTURE_SOURCE_DIR,
  resources,
  synthStack,
  type TerraformJson,
} from "../support/synth";

/** The app's service principal: known only once Terraform created the app; this stands in for it. */
const APP_ROLE = "5e0c7a2d-app-service-principal";

/** The `local-exec` environment of the terraform_data that runs `command`. */
function stepEnvironment(json: TerraformJson, command: string): Record<string, string> {
  const steps = Object.values(resources(json, "terraform_data")).filter(
    (r: Attributes) => r.provisioner?.[0]["local-exec"].command === command,
  );
  assert.equal(steps.length, 1, `one terraform_data runs ${command}`);
  return steps[0].provisioner[0]["local-exec"].environment;
}

/**
 * `template` as Terraform evaluates it at apply time: `$${` and `%%{` are the literal `${` and `%{`; a
 * reference to another resource's attribute is that attribute's configured value, evaluated the same way,
 * or (the app's service principal, computed by the platform) APP_ROLE.
 */
function evaluate(json: TerraformJson, template: string): string {
  return template.replace(/\$\$\{|%%\{|\$\{([^}]*)\}|%\{/g, (match, reference: string | undefined) => {
    if (match === "$${" || match === "%%{") return match.slice(1);
    assert.ok(reference, `a directive Terraform would run: ${template}`);
    const [type, name, attribute, ...rest] = reference.split(".");
    assert.equal(rest.length, 0, `a reference to one attribute: ${reference}`);
    if (type === "databricks_app" && attribute === "service_principal_client_id") return APP_ROLE;
    const value = resources(json, type)[name]?.[attribute];
    assert.equal(typeof value, "string", `${reference} is configured text`);
    return evaluate(json, value);
  });
}

function evaluatedEnvironment(json: TerraformJson, command: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(stepEnvironment(json, command)).map(([name, value]) => [name, evaluate(json, value)]),
  );
}

/** What the YAML says the post-apply step should hand the runner (synthStack takes the fixture app source). */
function expectedApply(config: EnvironmentConfig): ApplyStepInputs {
  return {
    instance: config.lakebase.instanceName,
    database: config.database.name,
    schema: config.database.schema,
    appRole: APP_ROLE,
    migrationsDir: join(FIXTURE_SOURCE_DIR, "migrations"),
    appAccess: config.database.appAccess,
    readOnlyRoles: [...config.database.readOnlyRoles].sort(),
    configFile: config.file,
    instanceTimeoutSeconds: config.postApply.instanceReadyTimeoutSeconds,
    lockTimeoutSeconds: config.postApply.lockTimeoutSeconds,
    statementLockTimeoutSeconds: config.postApply.statementLockTimeoutSeconds,
    statementTimeoutSeconds: config.postApply.statementTimeoutSeconds,
  };
}

function expectedRelease(config: EnvironmentConfig): ReleaseStepInputs {
  return {
    app: config.app.name,
    sourceDir: FIXTURE_SOURCE_DIR,
    workspacePath: sourcePath(config),
    sourceSha256: appSourceSha256(FIXTURE_SOURCE_DIR, config.app.env),
    appEnv: config.app.env,
    releaseTimeoutSeconds: config.postApply.releaseTimeoutSeconds,
  };
}

/** Checks both steps of `config`'s stack: the runner reads back, field by field, what the YAML says. */
function assertRoundTrip(config: EnvironmentConfig): void {
  const { json } = synthStack(config);
  const applyEnv = evaluatedEnvironment(json, POST_APPLY_COMMAND);
  const applied = inputsFromApplyEnvironment(applyEnv, false);
  const expected = expectedApply(config);
  for (const key of Object.keys(APPLY_VARIABLES) as (keyof ApplyStepInputs)[]) {
    const found =
      key === "statementLockTimeoutSeconds"
        ? applied.statementBounds.lockTimeoutSeconds
        : key === "statementTimeoutSeconds"
          ? applied.statementBounds.timeoutSeconds
          : applied[key];
    assert.deepEqual(found, expected[key], `${config.name}: ${APPLY_VARIABLES[key].name} → ${key}`);
  }
  assert.deepEqual(applied.connection, { port: 5432, tls: true }, `${config.name}: production connection`);
  // The run by hand reads the same YAML to the same inputs (the read-only roles in the YAML's order).
  const byHand = inputsFromEnvironmentConfig(
    config,
    APP_ROLE,
    { POST_APPLY_MIGRATIONS_DIR: join(FIXTURE_SOURCE_DIR, "migrations") },
    false,
  );
  assert.deepEqual({ ...byHand, readOnlyRoles: [...byHand.readOnlyRoles].sort() }, applied, config.name);

  const released = releaseInputsFromEnvironment(evaluatedEnvironment(json, RELEASE_COMMAND));
  const expectedReleased = expectedRelease(config);
  for (const key of Object.keys(RELEASE_VARIABLES) as (keyof ReleaseStepInputs)[])
    assert.deepEqual(released[key], expectedReleased[key], `${config.name}: ${RELEASE_VARIABLES[key].name} → ${key}`);

  // The workspace the YAML chose for the provider reaches both steps; nothing else but the contract does.
  const workspace = {
    ...(config.workspace.host && { DATABRICKS_HOST: config.workspace.host }),
    ...(config.workspace.profile && { DATABRICKS_CONFIG_PROFILE: config.workspace.profile }),
  };
  for (const [command, variables] of [
    [POST_APPLY_COMMAND, APPLY_VARIABLES],
    [RELEASE_COMMAND, RELEASE_VARIABLES],
  ] as const) {
    const env = evaluatedEnvironment(json, command);
    assert.deepEqual(
      Object.keys(env).sort(),
      [...Object.values(variables).map((v) => v.name), ...Object.keys(workspace)].sort(),
      `${config.name}: ${command}`,
    );
    for (const [name, value] of Object.entries(workspace)) assert.equal(env[name], value, `${config.name}: ${name}`);
  }
}

for (const config of loadEnvironments()) {
  test(`${config.name}: the runner reads back from both steps' local-exec what ${config.file} says`, () => {
    assertRoundTrip(config);
  });
}

test("text Terraform would evaluate, a chosen workspace, unsorted roles and app settings survive the round trip", () => {
  assertRoundTrip(
    environment({
      workspace: { host: "https://adb-1.azuredatabricks.net", profile: "notes ${ci}" },
      database: { schema: "notes", appAccess: "readOnly", readOnlyRoles: ["zeta-${x}", "alpha%{y}", "mid"] },
      app: { env: { LOG_LEVEL: "debug ${not} %{evaluated}" } },
      postApply: {
        instanceReadyTimeoutSeconds: 60,
        lockTimeoutSeconds: 20,
        statementLockTimeoutSeconds: 2,
        statementTimeoutSeconds: 90,
        releaseTimeoutSeconds: 300,
      },
    }),
  );
});

test("no secret reaches either step: no value refers to a variable or a secret resource, though the stack has both", () => {
  const { json } = synthStack(environment());
  assert.ok(
    Object.keys(json.variable ?? {}).some((name) => name.startsWith("secret_")),
    "the fixture has secrets",
  );
  assert.ok(Object.keys(resources(json, "databricks_secret")).length > 0, "the fixture has secret resources");
  for (const command of [POST_APPLY_COMMAND, RELEASE_COMMAND]) {
    for (const [name, value] of Object.entries(stepEnvironment(json, command)))
      assert.doesNotMatch(value, /\$\{(var\.|databricks_secret)/, `${command}: ${name}`);
  }
});

/** The `POST_APPLY_*` names in the first column of the README table headed `variable (<step>)`, in order. */
function readmeTable(readme: string, step: string): string[] {
  const lines = readme.split("\n");
  const header = lines.findIndex((line) => line.startsWith(`| variable (\`${step}\`)`));
  assert.ok(header >= 0, `the README has a table of ${step}'s variables`);
  const rows = lines.slice(header + 2);
  const end = rows.findIndex((line) => !line.startsWith("|"));
  return rows.slice(0, end < 0 ? undefined : end).map((row) => /^\| `(POST_APPLY_\w+)`/.exec(row)?.[1] ?? row);
}

test("the runner's README lists exactly the contract's variables, in its order, and no other POST_APPLY_ name", () => {
  const readme = readFileSync(join(REPO_ROOT, "tools", "post-apply", "README.md"), "utf8");
  const names = (variables: object) => Object.values(variables).map((v: { name: string }) => v.name);
  assert.deepEqual(readmeTable(readme, "apply"), names(APPLY_VARIABLES));
  assert.deepEqual(readmeTable(readme, "release"), names(RELEASE_VARIABLES));
  const declared = new Set([...names(APPLY_VARIABLES), ...names(RELEASE_VARIABLES), ...names(TEST_ONLY_VARIABLES)]);
  const mentioned = new Set(readme.match(/POST_APPLY_\w+/g));
  assert.deepEqual(
    [...mentioned].filter((name) => !declared.has(name)),
    [],
  );
});
