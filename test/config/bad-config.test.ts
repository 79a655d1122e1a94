/**
 * Every kind of configuration mistake a user can make gets the documented error shape:
 * `<file>:<line>:<column>: <field path>: expected ..., found ...`, all problems of a file at once.
 */
import { test, describe as suite } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { ConfigError, type ConfigProblem, formatProblem } from "../../stacks/config/config-error";
import { parseDocument } from "yaml";
import { Token } from "../../stacks/cdktf";
import { deepMerge, environmentsDir, loadEnvironments } from "../../stacks/config/load-environments";
import { HISTORY_SCHEMA } from "../../tools/lib/lakebase/migration-history";
import { SHIPPED_ENVIRONMENTS, UNSHIPPED_ENVIRONMENT } from "../support/environments";
import { environment } from "../support/synth";

const REAL = environmentsDir({});
const realFiles = Object.fromEntries(readdirSync(REAL).map((f) => [f, readFileSync(join(REAL, f), "utf8")]));

/** A directory entry a test makes itself (a symbolic link, a directory...), given its path. */
type MakeEntry = (path: string) => void;

/**
 * Loads the real environments with some files replaced (a string), removed (null) or made otherwise (a
 * function); returns the problems.
 */
function problemsWith(
  files: Record<string, string | null | MakeEntry>,
  only?: string[],
): { dir: string; problems: readonly ConfigProblem[] } {
  const dir = mkdtempSync(join(tmpdir(), "envs-"));
  for (const [name, entry] of Object.entries({ ...realFiles, ...files })) {
    if (typeof entry === "function") entry(join(dir, name));
    else if (entry !== null) writeFileSync(join(dir, name), entry);
  }
  try {
    loadEnvironments({ dir, only });
  } catch (e) {
    if (e instanceof ConfigError) return { dir, problems: e.problems };
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.fail("expected a ConfigError, the configuration loaded");
}

interface Expected {
  file: string;
  field: string;
  message: RegExp;
  line?: number;
  column?: number;
}

/** Asserts that loading with `files` reports the expected problem (among others); returns all of them. */
function problemsIncluding(
  files: Record<string, string | null | MakeEntry>,
  expected: Expected,
  only?: string[],
): readonly ConfigProblem[] {
  const { dir, problems } = problemsWith(files, only);
  const file = relative(process.cwd(), join(dir, expected.file));
  const match = problems.find((p) => p.file === file && p.field === expected.field && expected.message.test(p.message));
  assert.ok(match, `no problem ${JSON.stringify(expected)} among:\n${problems.map(formatProblem).join("\n")}`);
  if (expected.line !== undefined) assert.equal(match.line, expected.line, formatProblem(match));
  if (expected.column !== undefined) assert.equal(match.column, expected.column, formatProblem(match));
  // The documented shape: location, field, then what was expected and what was found.
  assert.match(formatProblem(match), /^.+?(:\d+:\d+)?: (YAML syntax error: |.*(expected|unknown))/);
  return problems;
}

function expectProblem(files: Record<string, string | null | MakeEntry>, expected: Expected, only?: string[]): void {
  problemsIncluding(files, expected, only);
}

/** dev.yaml as shipped, with extra YAML lines appended under the given top-level section. */
const dev = (extra: string) => `${realFiles["dev.yaml"]}${extra}\n`;
/** The number of lines in the shipped dev.yaml: text appended by `dev()` starts on the next line. */
const devLines = realFiles["dev.yaml"].split("\n").length - 1;

suite("types", () => {
  test("a number where a string is expected", () =>
    expectProblem(
      {
        "dev.yaml":
          "app:\n  name: 42\nlakebase:\n  instanceName: notes-dev\ndatabase:\n  catalog: notes_dev\nsecrets:\n  scope: notes-dev\n",
      },
      {
        file: "dev.yaml",
        field: "app.name",
        line: 2,
        column: 3,
        message: /^expected a string, found 42$/,
      },
    ));
  test("a string where a boolean is expected", () =>
    expectProblem(
      { "dev.yaml": dev("production: yes") },
      { file: "dev.yaml", field: "production", line: devLines + 1, message: /expected a boolean, found "yes"/ },
    ));
  test("a fraction where a whole number is expected", () =>
    expectProblem(
      { "staging.yaml": realFiles["staging.yaml"].replace("retentionWindowInDays: 14", "retentionWindowInDays: 7.5") },
      {
        file: "staging.yaml",
        field: "lakebase.retentionWindowInDays",
        message: /expected a whole number, found 7.5/,
      },
    ));
  test("a number where a tag value string is expected", () =>
    expectProblem(
      { "prod.yaml": realFiles["prod.yaml"].replace("criticality: high", "criticality: 1") },
      {
        file: "prod.yaml",
        field: "lakebase.tags.criticality",
        message: /expected a string, found 1/,
      },
    ));
  test("a mapping where a list is expected", () =>
    expectProblem(
      {
        "common.yaml": realFiles["common.yaml"].replace(
          "keys:\n    - session-signing-key",
          "keys:\n    key: session-signing-key",
        ),
      },
      {
        file: "common.yaml",
        field: "secrets.keys",
        message: /expected a array, found a mapping/,
      },
    ));
});

suite("enums", () => {
  test("compute size", () =>
    expectProblem(
      { "prod.yaml": realFiles["prod.yaml"].replace("computeSize: LARGE", "computeSize: XLARGE") },
      {
        file: "prod.yaml",
        field: "app.computeSize",
        message: /expected one of "MEDIUM" \| "LARGE", found "XLARGE"/,
      },
    ));
  test("instance capacity", () =>
    expectProblem(
      { "prod.yaml": realFiles["prod.yaml"].replace("capacity: CU_2", "capacity: CU_3") },
      {
        file: "prod.yaml",
        field: "lakebase.capacity",
        message: /expected one of "CU_1" \| "CU_2" \| "CU_4" \| "CU_8", found "CU_3"/,
      },
    ));
  test("app permission level", () =>
    expectProblem(
      { "dev.yaml": realFiles["dev.yaml"].replace("level: CAN_MANAGE", "level: CAN_VIEW") },
      {
        file: "dev.yaml",
        field: "permissions.app[0].level",
        message: /expected one of "CAN_USE" \| "CAN_MANAGE", found "CAN_VIEW"/,
      },
    ));
  test("serving endpoint permission", () =>
    expectProblem(
      { "common.yaml": `${realFiles["common.yaml"]}    permission: CAN_RUN\n` },
      {
        file: "common.yaml",
        field: "servingEndpoints[0].permission",
        message: /expected one of "CAN_QUERY" \| "CAN_VIEW" \| "CAN_MANAGE", found "CAN_RUN"/,
      },
    ));
  test("state backend type", () =>
    expectProblem(
      { "dev.yaml": dev("backend:\n  type: ftp") },
      {
        file: "dev.yaml",
        field: "backend.type",
        line: devLines + 2,
        message: /expected one of "local" \| "s3" \| "azurerm" \| "gcs" \| "remote", found "ftp"/,
      },
    ));
});

suite("ranges and formats", () => {
  test("retention below 2 days", () =>
    expectProblem(
      { "staging.yaml": realFiles["staging.yaml"].replace("retentionWindowInDays: 14", "retentionWindowInDays: 1") },
      {
        file: "staging.yaml",
        field: "lakebase.retentionWindowInDays",
        message: /expected at least 2, found 1/,
      },
    ));
  test("retention above 35 days", () =>
    expectProblem(
      { "prod.yaml": realFiles["prod.yaml"].replace("retentionWindowInDays: 35", "retentionWindowInDays: 36") },
      {
        file: "prod.yaml",
        field: "lakebase.retentionWindowInDays",
        message: /expected at most 35, found 36/,
      },
    ));
  test("node count above the primary plus two secondaries", () =>
    expectProblem(
      { "prod.yaml": realFiles["prod.yaml"].replace("nodeCount: 2", "nodeCount: 4") },
      {
        file: "prod.yaml",
        field: "lakebase.nodeCount",
        message: /expected at most 3, found 4/,
      },
    ));
  test("an app name with capitals", () =>
    expectProblem(
      { "dev.yaml": realFiles["dev.yaml"].replace("name: notes-dev", "name: Notes-Dev") },
      {
        file: "dev.yaml",
        field: "app.name",
        line: 3,
        column: 3,
        message: /expected 3-30 lowercase letters, digits or hyphens.*found "Notes-Dev"/,
      },
    ));
  test("a catalog name with a hyphen", () =>
    expectProblem(
      { "dev.yaml": realFiles["dev.yaml"].replace("catalog: notes_dev", "catalog: notes-dev") },
      {
        file: "dev.yaml",
        field: "database.catalog",
        message: /expected a lowercase identifier.*found "notes-dev"/,
      },
    ));
  test("a workspace host that is not a URL", () =>
    expectProblem(
      { "dev.yaml": dev("workspace:\n  host: my-workspace") },
      {
        file: "dev.yaml",
        field: "workspace.host",
        message: /expected the workspace URL, http\(s\):\/\/<host>\[:<port>\] without a path, found "my-workspace"/,
      },
    ));
  test("a user that is not an email address", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "- group: notes-developers\n      level: CAN_MANAGE",
          "- user: alice\n      level: CAN_MANAGE",
        ),
      },
      {
        file: "dev.yaml",
        field: "permissions.app[0].user",
        message: /expected a valid email, found "alice"/,
      },
    ));
  test("a service principal that is not an application id", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "- group: notes-developers\n      level: CAN_MANAGE",
          "- servicePrincipal: ci-bot\n      level: CAN_MANAGE",
        ),
      },
      {
        file: "dev.yaml",
        field: "permissions.app[0].servicePrincipal",
        message: /expected a valid uuid, found "ci-bot"/,
      },
    ));
  test("a non-numeric job id", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "  name: notes-dev",
          "  name: notes-dev\n  jobs:\n    - resourceName: nightly\n      id: nightly-job",
        ),
      },
      {
        file: "dev.yaml",
        field: "app.jobs[0].id",
        message: /expected a numeric job id, found "nightly-job"/,
      },
    ));
  test("an empty list of secret keys", () =>
    expectProblem(
      { "common.yaml": realFiles["common.yaml"].replace("keys:\n    - session-signing-key", "keys: []") },
      {
        file: "common.yaml",
        field: "secrets.keys",
        message: /expected at least 1 item\(s\), found a list of 0/,
      },
    ));
  test("two principals in one grant", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "- group: notes-developers\n      level: CAN_MANAGE",
          "- group: notes-developers\n      user: a@example.com\n      level: CAN_MANAGE",
        ),
      },
      {
        file: "dev.yaml",
        field: "permissions.app[0]",
        message: /expected exactly one of user, group or servicePrincipal, found a mapping/,
      },
    ));
});

suite("unknown and missing keys", () => {
  test("a misspelt top-level section", () =>
    expectProblem(
      { "dev.yaml": dev("lakebsae:\n  capacity: CU_1") },
      {
        file: "dev.yaml",
        field: "lakebsae",
        line: devLines + 1,
        column: 1,
        message: /unknown key; expected one of: production, workspace, backend, app, lakebase/,
      },
    ));
  test("a misspelt nested key, reported at the key", () =>
    expectProblem(
      {
        "staging.yaml": realFiles["staging.yaml"].replace(
          "retentionWindowInDays: 14",
          "retentionWindowInDays: 14\n  capasity: CU_2",
        ),
      },
      {
        file: "staging.yaml",
        field: "lakebase.capasity",
        line: 8,
        column: 3,
        message: /unknown key; expected one of: instanceName, capacity, nodeCount/,
      },
    ));
  test("an option of another backend type", () =>
    expectProblem(
      { "dev.yaml": dev("backend:\n  type: gcs\n  bucket: b\n  prefix: p\n  region: eu") },
      {
        file: "dev.yaml",
        field: "backend.region",
        message: /unknown key; expected one of: type, bucket, prefix/,
      },
    ));
  test("a missing app name", () =>
    expectProblem(
      { "dev.yaml": realFiles["dev.yaml"].replace("  name: notes-dev\n", "  computeSize: MEDIUM\n") },
      {
        file: "dev.yaml",
        field: "app.name",
        message: /expected a string, found nothing \(the field is missing\)/,
      },
    ));
  test("a missing instance name", () =>
    expectProblem(
      { "staging.yaml": realFiles["staging.yaml"].replace("  instanceName: notes-staging\n", "") },
      {
        file: "staging.yaml",
        field: "lakebase.instanceName",
        message: /expected a string, found nothing/,
      },
    ));
  test("a missing required setting of the chosen backend", () =>
    expectProblem(
      { "dev.yaml": dev("backend:\n  type: s3\n  key: notes/dev.tfstate\n  region: eu-west-1") },
      {
        file: "dev.yaml",
        field: "backend.bucket",
        message: /expected a string, found nothing/,
      },
    ));
  test("a local state path: where state lives is this machine's choice (STACK_STATE_DIR), not the shared YAML's", () =>
    expectProblem(
      { "dev.yaml": dev("backend:\n  type: local\n  path: terraform.dev.tfstate") },
      {
        file: "dev.yaml",
        field: "backend.path",
        line: devLines + 3,
        message: /unknown key; expected one of: type, reason/,
      },
    ));
  test("a blank reason for keeping production state local", () =>
    expectProblem(
      { "dev.yaml": dev("backend:\n  type: local\n  reason: '  '") },
      {
        file: "dev.yaml",
        field: "backend.reason",
        line: devLines + 3,
        message: /expected at least 1 character\(s\), found " {2}"/,
      },
    ));
  test("a secret values section is not accepted: values never live in YAML", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "scope: notes-dev",
          "scope: notes-dev\n  values:\n    session-signing-key: hunter2",
        ),
      },
      {
        file: "dev.yaml",
        field: "secrets.values",
        message: /unknown key; expected one of: scope, keys/,
      },
    ));
});

suite("names the platform or the stack cannot take", () => {
  const schema = (name: string) =>
    realFiles["dev.yaml"].replace("catalog: notes_dev", `catalog: notes_dev\n  schema: ${name}`);
  for (const name of [HISTORY_SCHEMA, "pg_catalog", "pg_app", "information_schema", "public"]) {
    test(`the app schema ${name}`, () =>
      expectProblem(
        { "dev.yaml": schema(name) },
        {
          file: "dev.yaml",
          field: "database.schema",
          message: new RegExp(
            `^expected a schema of the app's own, not pg_\\*, information_schema, post_apply or public, found "${name}"$`,
          ),
        },
      ));
  }
  const roles = (...names: string[]) =>
    realFiles["prod.yaml"].replace("    - notes-analysts", names.map((n) => `    - ${n}`).join("\n"));
  test("a read-only role with a comma (one role to npm run migrate, two to the deploy)", () =>
    expectProblem(
      { "prod.yaml": roles("notes-analysts", "auditors,admins") },
      {
        file: "prod.yaml",
        field: "database.readOnlyRoles[1]",
        message: /^expected a role name without ',' or '"', found "auditors,admins"$/,
      },
    ));
  test("a read-only role with a double quote", () =>
    expectProblem(
      { "prod.yaml": roles(`'say "hi"'`) },
      {
        file: "prod.yaml",
        field: "database.readOnlyRoles[0]",
        message: /^expected a role name without ',' or '"', found "say \\"hi\\""$/,
      },
    ));
  test("a read-only role with a leading space or a control character", () => {
    expectProblem(
      { "prod.yaml": roles(`" notes-analysts"`) },
      {
        file: "prod.yaml",
        field: "database.readOnlyRoles[0]",
        message: /^expected a name without control characters or surrounding spaces, found " notes-analysts"$/,
      },
    );
    expectProblem(
      { "prod.yaml": roles(`"notes\u0007analysts"`) },
      { file: "prod.yaml", field: "database.readOnlyRoles[0]", message: /^expected a name without control characters/ },
    );
  });
  test("a read-only role longer than Postgres keeps (63 bytes, not characters)", () =>
    expectProblem(
      { "prod.yaml": roles(`${"é".repeat(32)}@example.com`) },
      { file: "prod.yaml", field: "database.readOnlyRoles[0]", message: /^expected a role name of at most 63 bytes/ },
    ));
  test("identities that are fine as roles: an email with an apostrophe, a group with spaces, an application id", () => {
    const config = environment({
      database: { readOnlyRoles: ["o'brien@example.com", "Data Analysts", "6a1f0c4e-6f0a-4b7e-9d7c-2f5d7f1c9a10"] },
    });
    assert.equal(config.database.readOnlyRoles.length, 3);
  });
  for (const key of ["constructor", "toString", "__proto__", "scope", "hasOwnProperty"]) {
    test(`a secret key named ${key}`, () =>
      expectProblem(
        {
          "common.yaml": realFiles["common.yaml"].replace(
            "keys:\n    - session-signing-key",
            `keys:\n    - session-signing-key\n    - ${key}`,
          ),
        },
        {
          file: "common.yaml",
          field: "secrets.keys[1]",
          message: new RegExp(`^expected a key other than scope or a JavaScript object property .*, found "${key}"$`),
        },
      ));
  }
  test("two secret keys that differ only in case map to the same Terraform variable", () =>
    expectProblem(
      {
        "common.yaml": realFiles["common.yaml"].replace(
          "keys:\n    - session-signing-key",
          "keys:\n    - session-signing-key\n    - Session-Signing-Key",
        ),
      },
      {
        file: "common.yaml",
        field: "secrets.keys[1]",
        message:
          /^expected keys that map to distinct Terraform variables, found "Session-Signing-Key" and "session-signing-key" both mapping to secret_session_signing_key$/,
      },
    ));
});

suite("fields held to the platform's pattern (template syntax cannot get in)", () => {
  const inApp = (lines: string) =>
    realFiles["dev.yaml"].replace("  name: notes-dev\n", `  name: notes-dev\n${lines}\n`);
  const cases: [string, string, string, RegExp][] = [
    [
      "user API scope",
      inApp(`  userApiScopes: ['\${file("/etc/passwd")}']`),
      "app.userApiScopes[0]",
      /^expected an API scope such as sql or iam.current-user:read/,
    ],
    [
      "SQL warehouse id",
      inApp("  sqlWarehouses:\n    - resourceName: wh\n      id: '${uuid()}'"),
      "app.sqlWarehouses[0].id",
      /^expected a SQL warehouse id: lowercase letters and digits/,
    ],
    [
      "serving endpoint name",
      dev("servingEndpoints:\n  - resourceName: llm\n    name: '%{if true}x%{endif}'"),
      "servingEndpoints[0].name",
      /^expected a serving endpoint name/,
    ],
    [
      "workspace URL with a path",
      dev("workspace:\n  host: https://x.cloud.databricks.com/${x}"),
      "workspace.host",
      /^expected the workspace URL/,
    ],
    [
      "profile with a bracket",
      dev("workspace:\n  profile: '[DEFAULT]'"),
      "workspace.profile",
      /^expected a profile name without brackets/,
    ],
    [
      "S3 bucket",
      dev("backend:\n  type: s3\n  bucket: my ${bucket}\n  key: k\n  region: eu-west-1"),
      "backend.bucket",
      /^expected an S3 bucket name/,
    ],
    [
      "storage account",
      dev(
        "backend:\n  type: azurerm\n  resourceGroupName: rg\n  storageAccountName: State_Account\n  containerName: tfstate\n  key: k",
      ),
      "backend.storageAccountName",
      /^expected a storage account name/,
    ],
    [
      "HCP Terraform workspace",
      dev("backend:\n  type: remote\n  organization: acme\n  workspace: notes dev"),
      "backend.workspace",
      /^expected a workspace name/,
    ],
    [
      "group with a trailing space",
      realFiles["dev.yaml"].replace(
        "- group: notes-developers\n      level: CAN_MANAGE",
        "- group: 'notes-developers '\n      level: CAN_MANAGE",
      ),
      "permissions.app[0].group",
      /^expected a name without control characters or surrounding spaces/,
    ],
  ];
  for (const [what, yaml, field, message] of cases)
    test(what, () => expectProblem({ "dev.yaml": yaml }, { file: "dev.yaml", field, message }));
  test("a source path with a '..' segment (it would name another directory than the guardrails read)", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "  name: notes-dev\n",
          "  name: notes-dev\n  sourcePath: /Shared/apps/dev/../notes-prod\n",
        ),
      },
      {
        file: "dev.yaml",
        field: "app.sourcePath",
        message: /^expected path segments that are names: no empty, "." or ".." segment/,
      },
    ));
  test("a CAN_MANAGE reason that is only spaces", () =>
    expectProblem(
      { "common.yaml": `${realFiles["common.yaml"]}    permission: CAN_MANAGE\n    reason: "  "\n` },
      {
        file: "common.yaml",
        field: "servingEndpoints[0].reason",
        message: /^expected a reason \(some text\), found " {2}"$/,
      },
    ));
});

suite("YAML itself", () => {
  test("a syntax error has a line and column", () =>
    expectProblem(
      { "dev.yaml": "app:\n  name: [notes-dev\nlakebase: {}\n" },
      { file: "dev.yaml", field: "", line: 3, column: 1, message: /^YAML syntax error: / },
    ));
  test("a duplicated key", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "app:\n  name: notes-dev",
          "app:\n  name: notes-dev\n  name: notes-dev2",
        ),
      },
      {
        file: "dev.yaml",
        field: "",
        line: 4,
        message: /YAML syntax error: Map keys must be unique/,
      },
    ));
  test("a file that is a list, not a mapping", () =>
    expectProblem(
      { "staging.yaml": "- app\n- lakebase\n" },
      {
        file: "staging.yaml",
        field: "",
        line: 1,
        column: 1,
        message: /expected a mapping of settings, found a list of 2/,
      },
    ));
  test("an environment file name that cannot be a stack name", () =>
    expectProblem(
      { "Dev_Test.yaml": realFiles["dev.yaml"] },
      { file: "Dev_Test.yaml", field: "", message: /expected a file name of lowercase letters, digits and hyphens/ },
    ));
  test("a mistake in common.yaml is reported against common.yaml", () =>
    expectProblem(
      { "common.yaml": realFiles["common.yaml"].replace("capacity: CU_1", "capacity: CU_16") },
      {
        file: "common.yaml",
        field: "lakebase.capacity",
        message: /found "CU_16"/,
      },
    ));
});

suite("app settings (app.env)", () => {
  const withEnv = (lines: string) => ({
    "dev.yaml": realFiles["dev.yaml"].replace(
      "app:\n  name: notes-dev\n",
      `app:\n  name: notes-dev\n  env:\n${lines}\n`,
    ),
  });
  test("a variable the platform sets", () =>
    expectProblem(withEnv("    PGHOST: elsewhere"), {
      file: "dev.yaml",
      field: "app.env.PGHOST",
      message: /expected an upper-case variable name .* not starting with DATABRICKS_ or PG .*found "PGHOST"/,
    }));
  test("a lower-case name", () =>
    expectProblem(withEnv("    log_level: debug"), {
      file: "dev.yaml",
      field: "app.env.log_level",
      message: /expected an upper-case variable name/,
    }));
  test("a name app-src/app.yaml sets already", () =>
    expectProblem(withEnv("    SESSION_SIGNING_KEY: not-a-secret"), {
      file: "dev.yaml",
      field: "app.env.SESSION_SIGNING_KEY",
      message: /expected a variable app-src\/app\.yaml does not set itself, found "SESSION_SIGNING_KEY"/,
    }));
  test("a value that is not a string", () =>
    expectProblem(withEnv("    RETRIES: [1, 2]"), {
      file: "dev.yaml",
      field: "app.env.RETRIES",
      message: /expected a string, found/,
    }));
});

suite("text and keys that must not reach the stack", () => {
  const reference = {
    creationStack: [],
    resolve: () => "${var.secret_session_signing_key}",
    toString: () => "reference",
  };
  test("a value holding cdktf's string token marker (synthesis would substitute the token it names)", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "  name: notes-dev\n",
          "  name: notes-dev\n  description: 'a ${TfToken[TOKEN.1]} b'\n",
        ),
      },
      {
        file: "dev.yaml",
        field: "app.description",
        line: 4,
        column: 3,
        message:
          /^expected text without cdktf's token encoding, found "\$\{TfToken\[…" in "a \$\{TfToken\[TOKEN\.1\]\} b"$/,
      },
    ));
  test("a key holding cdktf's list token marker", () =>
    expectProblem(
      {
        "prod.yaml": realFiles["prod.yaml"].replace(
          "criticality: high",
          "criticality: high\n    '#{TfToken[TOKEN.2]}': x",
        ),
      },
      {
        file: "prod.yaml",
        field: "lakebase.tags.#{TfToken[TOKEN.2]}",
        message: /^expected a key without cdktf's token encoding, found "#\{TfToken\[…"/,
      },
    ));
  test("a number that is cdktf's encoding of a number token", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "  name: notes-dev\n",
          `  name: notes-dev\n  description: 'pay ${Token.asNumber(reference)} now'\n`,
        ),
      },
      {
        file: "dev.yaml",
        field: "app.description",
        message: /^expected text without cdktf's token encoding, found "-?[\d.]+e\+\d+"/,
      },
    ));
  test("cdktf's map token value as text (synthesis fails on it)", () =>
    expectProblem(
      {
        "common.yaml": realFiles["common.yaml"].replace(
          "description: Team notes backed by Lakebase",
          "description: Any Map Token Value",
        ),
      },
      {
        file: "common.yaml",
        field: "app.description",
        message: /^expected text without cdktf's token encoding/,
      },
    ));
  test("a __proto__ mapping is an unknown key, and what it holds never takes effect", () => {
    const problems = problemsIncluding(
      { "dev.yaml": `__proto__:\n  production: true\n${realFiles["dev.yaml"]}` },
      {
        file: "dev.yaml",
        field: "__proto__",
        line: 1,
        column: 1,
        message: /^unknown key; __proto__ is never a setting or a name$/,
      },
    );
    assert.equal(
      problems.filter((p) => p.field.includes("__proto__")).length,
      1,
      problems.map(formatProblem).join("\n"),
    );
  });
  test("a __proto__ key inside a section and among free-form tags", () => {
    expectProblem(
      { "common.yaml": realFiles["common.yaml"].replace("app:\n", "app:\n  __proto__:\n    name: hijack\n") },
      { file: "common.yaml", field: "app.__proto__", message: /^unknown key/ },
    );
    expectProblem(
      { "prod.yaml": realFiles["prod.yaml"].replace("criticality: high", "criticality: high\n    __proto__: x") },
      { file: "prod.yaml", field: "lakebase.tags.__proto__", message: /^unknown key/ },
    );
  });
  test("deepMerge keeps a __proto__ key as data: no prototype is set, nothing is polluted", () => {
    const parsed = parseDocument("__proto__:\n  production: true\n").toJS();
    const merged = deepMerge({ app: { name: "x" } }, parsed) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    assert.equal(merged.production, undefined);
    assert.ok(Object.hasOwn(merged, "__proto__"));
    assert.equal(({} as Record<string, unknown>).production, undefined);
  });
});

/** Creates a symbolic link to `target` (relative to the link's directory). */
const symlinkTo =
  (target: string): MakeEntry =>
  (path) =>
    symlinkSync(target, path);
/** A token that must never appear in an error: the content of a file that is not an environment file. */
const TOKEN = "dapiSECRET0123456789";

suite("files that are not environment files: one line each, never their content", () => {
  const notEchoed = (problems: readonly ConfigProblem[]) =>
    assert.ok(!problems.map(formatProblem).join("\n").includes("SECRET"), problems.map(formatProblem).join("\n"));
  test("a YAML alias bomb (billion laughs)", () => {
    const levels = Array.from(
      { length: 9 },
      (_, i) =>
        `l${i}: &l${i} [${Array(9)
          .fill(i ? `*l${i - 1}` : '"lol"')
          .join(", ")}]`,
    );
    expectProblem(
      { "dev.yaml": `${levels.join("\n")}\n` },
      { file: "dev.yaml", field: "", message: /^expected YAML whose aliases expand to a bounded size/ },
    );
  });
  test("an alias without an anchor is a syntax error at the alias, not a stack trace; the name is not quoted", () =>
    notEchoed(
      problemsIncluding(
        { "dev.yaml": `${realFiles["dev.yaml"]}description: *${TOKEN}\n` },
        {
          file: "dev.yaml",
          field: "",
          line: devLines + 1,
          column: 14,
          message: /^YAML syntax error: Unresolved alias/,
        },
      ),
    ));
  test("a directory named like an environment file", () =>
    expectProblem(
      { "qa.yaml": (path) => mkdirSync(path) },
      { file: "qa.yaml", field: "", message: /^expected a readable YAML file, found a directory$/ },
    ));
  test("a dangling symbolic link", () =>
    expectProblem(
      { "qa.yaml": symlinkTo("gone.yaml") },
      { file: "qa.yaml", field: "", message: /^expected a readable YAML file, found a symbolic link to nothing$/ },
    ));
  test("a loop of symbolic links", () =>
    expectProblem(
      { "qa.yaml": symlinkTo("qa.yaml") },
      { file: "qa.yaml", field: "", message: /^expected a readable YAML file, found a loop of symbolic links$/ },
    ));
  test("a symbolic link to a .env file is not read at all", () =>
    notEchoed(
      problemsIncluding(
        { ".env": `DATABRICKS_TOKEN=${TOKEN}\n`, "qa.yaml": symlinkTo(".env") },
        {
          file: "qa.yaml",
          field: "",
          message: /^expected a readable YAML file, found a symbolic link to a file not named \*\.yaml/,
        },
      ),
    ));
  test("a .env file's content in an environment file: its kind is named, not its text", () =>
    notEchoed(
      problemsIncluding(
        { "qa.yaml": `DATABRICKS_TOKEN=${TOKEN}\nDATABRICKS_HOST=https://x\n` },
        { file: "qa.yaml", field: "", line: 1, column: 1, message: /^expected a mapping of settings, found a string$/ },
      ),
    ));
  for (const [what, text] of [
    ["a stray scalar after a list", `- a\ntoken: ${TOKEN}\n`],
    ["an ini file", `[DEFAULT]\nhost = https://x\ntoken = ${TOKEN}\n`],
    ["an unknown tag", `token: !${TOKEN} x\n`],
    ["a bad escape", `token: "\\q${TOKEN}"\n`],
    ["a block scalar header", `token: |${TOKEN}\n  x\n`],
    ["an unknown directive", `%${TOKEN}\n---\ntoken: x\n`],
    ["a verbatim tag", `token: !<${TOKEN}> x\n`],
  ]) {
    test(`invalid YAML is reported without quoting it: ${what}`, () =>
      notEchoed(
        problemsIncluding({ "qa.yaml": text }, { file: "qa.yaml", field: "", message: /^YAML syntax error: [A-Za-z]/ }),
      ));
  }
  test("bytes that are not UTF-8", () =>
    notEchoed(
      problemsIncluding(
        { "qa.yaml": (path) => writeFileSync(path, Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a])) },
        { file: "qa.yaml", field: "", message: /^expected a readable YAML file, found bytes that are not UTF-8 text$/ },
      ),
    ));
  test(
    "a named pipe (reading it would wait forever)",
    { skip: spawnSync("mkfifo", ["--version"]).status !== 0 && "no mkfifo here" },
    () =>
      expectProblem(
        { "qa.yaml": (path) => assert.equal(spawnSync("mkfifo", [path]).status, 0) },
        {
          file: "qa.yaml",
          field: "",
          message: /^expected a readable YAML file, found something that is not a regular file$/,
        },
      ),
  );
  test("a file this user may not read", { skip: process.getuid?.() === 0 && "root reads every file" }, () =>
    expectProblem(
      { "qa.yaml": (path) => writeFileSync(path, "app: {}\n", { mode: 0o000 }) },
      { file: "qa.yaml", field: "", message: /^expected a readable YAML file, found a file this user may not read$/ },
    ),
  );
  test("*.yml and other spellings of the extension are errors, not silently ignored", () => {
    expectProblem(
      { "qa.yml": realFiles["dev.yaml"] },
      {
        file: "qa.yml",
        field: "",
        message: /^expected the extension \.yaml \(only \*\.yaml files are read\), found another spelling$/,
      },
    );
    expectProblem(
      { "common.yml": realFiles["common.yaml"] },
      { file: "common.yml", field: "", message: /^expected the extension \.yaml/ },
    );
    expectProblem(
      { "qa.YAML": realFiles["dev.yaml"] },
      { file: "qa.YAML", field: "", message: /^expected the extension \.yaml/ },
    );
  });
  test("no environments at all", () =>
    expectProblem(Object.fromEntries(SHIPPED_ENVIRONMENTS.map((name) => [`${name}.yaml`, null])), {
      file: ".",
      field: "",
      message: /^expected at least one environment file \(<environment>\.yaml besides common\.yaml\), found none$/,
    }));
  test("the same environment named twice on the command line", () =>
    expectProblem({}, { file: ".", field: "", message: /^expected each environment once, found "dev" named again$/ }, [
      "dev",
      "prod",
      "dev",
    ]));
});

suite("across files", () => {
  test("an app name used by two environments", () =>
    expectProblem(
      { "staging.yaml": realFiles["staging.yaml"].replace("name: notes-staging", "name: notes-dev") },
      {
        file: "staging.yaml",
        field: "app.name",
        message: /expected a app name unique across environments, found "notes-dev", already used by environment dev/,
      },
    ));
  test("an instance name used by two environments", () =>
    expectProblem(
      { "prod.yaml": realFiles["prod.yaml"].replace("instanceName: notes-prod", "instanceName: notes-dev") },
      {
        file: "prod.yaml",
        field: "lakebase.instanceName",
        message: /unique across environments, found "notes-dev"/,
      },
    ));
  test("a catalog used by two environments", () =>
    expectProblem(
      { "staging.yaml": realFiles["staging.yaml"].replace("catalog: notes_staging", "catalog: notes_dev") },
      {
        file: "staging.yaml",
        field: "database.catalog",
        message: /unique across environments, found "notes_dev"/,
      },
    ));
  test("an app secret binding whose key is not in the scope", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "  name: notes-dev",
          "  name: notes-dev\n  secrets:\n    - resourceName: api-key\n      key: openai-api-key",
        ),
      },
      {
        file: "dev.yaml",
        field: "app.secrets[0].key",
        line: 6,
        message: /expected a key of secret scope "notes-dev" \(session-signing-key\), found "openai-api-key"/,
      },
    ));
  test("two app bindings with the same resource name", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "  name: notes-dev",
          "  name: notes-dev\n  sqlWarehouses:\n    - resourceName: llm\n      id: abc123",
        ),
      },
      {
        file: "dev.yaml",
        field: "app.sqlWarehouses[0].resourceName",
        line: 5,
        column: 7,
        message:
          /^expected app resource names to be unique, found "llm", already used by servingEndpoints\[0\]\.resourceName$/,
      },
    ));
  test("two secret keys that map to the same Terraform variable", () =>
    expectProblem(
      {
        "common.yaml": realFiles["common.yaml"].replace(
          "keys:\n    - session-signing-key",
          "keys:\n    - session-signing-key\n    - session_signing_key",
        ),
      },
      {
        file: "common.yaml",
        field: "secrets.keys[1]",
        message: /both mapping to secret_session_signing_key/,
      },
    ));
  test("a source directory inside another environment's (it would be uploaded and deployed with that one)", () =>
    expectProblem(
      {
        "dev.yaml": realFiles["dev.yaml"].replace(
          "  name: notes-dev\n",
          "  name: notes-dev\n  sourcePath: /Shared/apps/notes-prod/dev\n",
        ),
      },
      {
        file: "dev.yaml",
        field: "app.sourcePath",
        line: 4,
        column: 3,
        message:
          /^expected a source directory apart from every other environment's, found "\/Shared\/apps\/notes-prod\/dev", which overlaps "\/Shared\/apps\/notes-prod" of environment prod$/,
      },
    ));
  test("two environments with one source directory: reported once, at the later", () => {
    const { problems } = problemsWith({
      "staging.yaml": realFiles["staging.yaml"].replace(
        "  name: notes-staging\n",
        "  name: notes-staging\n  sourcePath: /Shared/apps/notes-prod\n",
      ),
    });
    assert.deepEqual(
      problems.filter((p) => p.field === "app.sourcePath").map((p) => [p.file.split("/").pop(), p.message]),
      [
        [
          "staging.yaml",
          `expected a source directory apart from every other environment's, found "/Shared/apps/notes-prod", which overlaps "/Shared/apps/notes-prod" of environment prod`,
        ],
      ],
    );
  });
  test("an unknown environment name on the command line lists the known ones", () =>
    expectProblem(
      {},
      {
        file: ".",
        field: "",
        message: new RegExp(
          `^unknown environment "${UNSHIPPED_ENVIRONMENT}"; known environments: ${SHIPPED_ENVIRONMENTS.join(", ")}$`,
        ),
      },
      [UNSHIPPED_ENVIRONMENT],
    ));
});

test("every problem of a file is reported at once", () => {
  const { problems } = problemsWith({
    "dev.yaml":
      "app:\n  name: Notes\n  computeSize: HUGE\nlakebase:\n  instanceName: notes-dev\n  nodeCount: 9\n  stoped: true\ndatabase:\n  catalog: notes_dev\nsecrets:\n  scope: notes-dev\n",
  });
  const devProblems = problems
    .filter((p) => p.file.endsWith("dev.yaml"))
    .map((p) => p.field)
    .sort();
  assert.deepEqual(devProblems, ["app.computeSize", "app.name", "lakebase.nodeCount", "lakebase.stoped"]);
});

test("the environments directory is overridable and every *.yaml but common.yaml is an environment", () => {
  const dir = mkdtempSync(join(tmpdir(), "envs-"));
  try {
    writeFileSync(join(dir, "common.yaml"), realFiles["common.yaml"]);
    writeFileSync(join(dir, "qa.yaml"), realFiles["dev.yaml"].replaceAll("dev", "qa"));
    assert.equal(environmentsDir({ STACK_ENVIRONMENTS_DIR: dir }), dir);
    const loaded = loadEnvironments({ dir: environmentsDir({ STACK_ENVIRONMENTS_DIR: dir }) });
    assert.deepEqual(
      loaded.map((e) => [e.name, e.app.name]),
      [["qa", "notes-qa"]],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the shipped environments load with the documented defaults", () => {
  const [dev, prod] = loadEnvironments({ only: ["dev", "prod"] });
  assert.equal(dev.production, false);
  assert.equal(prod.production, true);
  assert.deepEqual(dev.backend, { type: "local" });
  assert.equal(dev.app.computeSize, "MEDIUM");
  assert.equal(dev.servingEndpoints[0].permission, "CAN_QUERY");
  assert.equal(dev.database.schema, "app");
  assert.deepEqual(prod.lakebase.tags, { project: "notes", "managed-by": "databricks-app-stack", criticality: "high" });
});
