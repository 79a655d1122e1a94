/** `npm run synth` as users run it: main.ts in a child process, output to a temporary directory. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { environmentsDir, loadEnvironments } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { SHIPPED_ENVIRONMENTS, UNSHIPPED_ENVIRONMENT } from "../support/environments";
import { secretValues } from "../../tools/lib/local/project";

interface Run {
  status: number | null;
  stderr: string;
  outdir: string;
}

/** Runs main.ts with `args`, writing to a fresh output directory; `env` adds to the environment. */
function synth(t: { after: (fn: () => void) => void }, args: string[] = [], env: NodeJS.ProcessEnv = {}): Run {
  const outdir = mkdtempSync(join(tmpdir(), "synth-"));
  t.after(() => rmSync(outdir, { recursive: true, force: true }));
  const result = spawnSync(process.execPath, ["--import", "tsx", "main.ts", ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, CDKTF_OUTDIR: outdir, ...env },
    encoding: "utf8",
  });
  return { status: result.status, stderr: result.stderr, outdir };
}

/** A copy of the shipped environments with some files replaced; removed after the test. */
function environments(
  t: { after: (fn: () => void) => void },
  replace: Record<string, (text: string) => string>,
): string {
  const dir = mkdtempSync(join(tmpdir(), "envs-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of readdirSync(environmentsDir({}))) {
    const text = readFileSync(join(environmentsDir({}), name), "utf8");
    writeFileSync(join(dir, name), (replace[name] ?? ((s) => s))(text));
  }
  return dir;
}

function assertNoStackTrace(stderr: string) {
  assert.doesNotMatch(stderr, /^\s+at /m, `stderr has a stack trace:\n${stderr}`);
}

const stackFiles = (outdir: string) =>
  readdirSync(join(outdir, "stacks")).filter((s) => existsSync(join(outdir, "stacks", s, "cdk.tf.json")));

// Synth reads nothing a secret could come from (the YAML names keys, never values): this is where any code
// path that did read one, or passed the process environment on, would show, so every declared secret is set.
test("synthesizes every environment, one stack each, and no secret value set for Terraform appears in the output", (t) => {
  const secrets = secretValues(loadEnvironments());
  assert.ok(Object.keys(secrets).length > 0, "no environment declares a secret");
  const run = synth(t, [], secrets);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(stackFiles(run.outdir).sort(), SHIPPED_ENVIRONMENTS);
  const written = readdirSync(run.outdir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  for (const file of written) {
    const text = readFileSync(join(file.parentPath, file.name), "utf8");
    for (const [variable, value] of Object.entries(secrets))
      assert.equal(
        text.includes(value),
        false,
        `${variable}'s value is in ${relative(run.outdir, file.parentPath)}/${file.name}`,
      );
  }
  for (const stack of SHIPPED_ENVIRONMENTS) {
    const json = JSON.parse(readFileSync(join(run.outdir, "stacks", stack, "cdk.tf.json"), "utf8"));
    assert.equal(json["//"].metadata.stackName, stack);
  }
});

test("synthesis needs no terraform binary (nothing but node on PATH)", (t) => {
  const bin = mkdtempSync(join(tmpdir(), "path-"));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  symlinkSync(process.execPath, join(bin, "node"));
  const run = synth(t, [SHIPPED_ENVIRONMENTS[0]], { PATH: bin });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(stackFiles(run.outdir), [SHIPPED_ENVIRONMENTS[0]]);
});

test("named environments only: `npm run synth -- <env>`", (t) => {
  const run = synth(t, [SHIPPED_ENVIRONMENTS[0]]);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(stackFiles(run.outdir), [SHIPPED_ENVIRONMENTS[0]]);
});

test("an unknown environment: exit 1, one line naming it, no stack trace", (t) => {
  const run = synth(t, [UNSHIPPED_ENVIRONMENT]);
  assert.equal(run.status, 1);
  assert.match(run.stderr, /^synth: invalid environment configuration \(1 problem\):\n {2}[^\n]*\n$/);
  assert.ok(
    run.stderr.includes(
      `unknown environment "${UNSHIPPED_ENVIRONMENT}"; known environments: ${SHIPPED_ENVIRONMENTS.join(", ")}\n`,
    ),
    run.stderr,
  );
  assertNoStackTrace(run.stderr);
});

test("a bad configuration: exit 1, one line per problem, no stack trace, nothing synthesized", (t) => {
  const dir = environments(t, {
    "dev.yaml": (s) => s.replace("name: notes-dev", "name: Notes_Dev"),
    "prod.yaml": (s) => s.replace("retentionWindowInDays: 35", "retentionWindowInDays: 90"),
  });
  const run = synth(t, [], { STACK_ENVIRONMENTS_DIR: dir });
  assert.equal(run.status, 1);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines[0], "synth: invalid environment configuration (2 problems):");
  assert.match(lines[1], /dev\.yaml:\d+:\d+: app\.name: expected 3-30 lowercase letters/);
  assert.match(lines[2], /prod\.yaml:\d+:\d+: lakebase\.retentionWindowInDays: expected at most 35, found 90/);
  assert.equal(lines.length, 3, run.stderr);
  assertNoStackTrace(run.stderr);
  assert.equal(existsSync(join(run.outdir, "stacks")), false);
});

test("guardrail violations in several stacks: exit 1, every violation on its own line, no stack trace", (t) => {
  const dir = environments(t, {
    "dev.yaml": (s) =>
      `${s}servingEndpoints:\n  - resourceName: llm\n    name: some-endpoint\n    permission: CAN_MANAGE\n`,
    "staging.yaml": (s) => s.replace("scope: notes-staging", "scope: notes"),
  });
  const run = synth(t, [], { STACK_ENVIRONMENTS_DIR: dir });
  assert.equal(run.status, 1);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines[0], "synth: guardrail violations (2):");
  assert.match(lines[1], /^ {2}DBX-ServingEndpointLeastPrivilege: dev\/app\/Resource: .*\(found: llm\)$/);
  assert.match(lines[2], /^ {2}DBX-EnvironmentInName: staging\/secrets\/scope: .*\(found: name=notes\)$/);
  assert.equal(lines.length, 3, run.stderr);
  assertNoStackTrace(run.stderr);
});

/** The shipped production environments' files with their backend section replaced by `backend`. */
function productionWithBackend(
  t: { after: (fn: () => void) => void },
  backend: string,
): { dir: string; production: string[] } {
  const production = loadEnvironments()
    .filter((e) => e.production)
    .map((e) => e.name);
  assert.ok(production.length > 0, "no production environment ships");
  const withBackend = (text: string) => `${text.replace(/^backend:\n(?: .*\n|\n)*/m, "")}${backend}`;
  return {
    dir: environments(t, Object.fromEntries(production.map((name) => [`${name}.yaml`, withBackend]))),
    production,
  };
}

test("a production environment with local state: exit 1 with the rule id, its file and the fix; a backend.reason lets it through", (t) => {
  const local = productionWithBackend(t, "backend:\n  type: local\n");
  const run = synth(t, [], { STACK_ENVIRONMENTS_DIR: local.dir });
  assert.equal(run.status, 1);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines[0], `synth: guardrail violations (${local.production.length}):`);
  for (const name of local.production) {
    const line = lines.find((l) => l.includes(` ${name}/backend: `)) ?? "";
    assert.match(line, /^ {2}DBX-ProductionRemoteState: /);
    assert.ok(line.includes(`in ${join(relative(REPO_ROOT, local.dir), `${name}.yaml`)} set backend to s3`), line);
    assert.match(line, /or give backend\.reason to keep local state \(found: local\)$/);
  }
  assertNoStackTrace(run.stderr);

  const accepted = productionWithBackend(
    t,
    "backend:\n  type: local\n  reason: a lab workspace; state is backed up nightly\n",
  );
  const ok = synth(t, [], { STACK_ENVIRONMENTS_DIR: accepted.dir });
  assert.equal(ok.status, 0, ok.stderr);
  for (const name of accepted.production) {
    const stack = JSON.parse(readFileSync(join(ok.outdir, "stacks", name, "cdk.tf.json"), "utf8"));
    assert.deepEqual(stack["//"].guardrailSuppressions, [
      {
        rule: "DBX-ProductionRemoteState",
        path: `${name}/backend`,
        appliesTo: "local",
        reason: "a lab workspace; state is backed up nightly",
      },
    ]);
  }
});

test("STACK_TEST_STATE_DIR: a warning on stderr naming the replaced backends; every stack's state is local there and marked", (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), "test-state-"));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const environments = loadEnvironments();
  const replaced = environments.filter((e) => e.backend.type !== "local");
  assert.ok(replaced.length > 0, "no shipped environment has a remote backend to replace");

  const run = synth(t, [], { STACK_TEST_STATE_DIR: stateDir });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(
    run.stderr,
    `WARNING: STACK_TEST_STATE_DIR is set: every environment keeps its Terraform state in ${stateDir}/<env>.tfstate, replacing the configured backends of ` +
      `${replaced.map((e) => `${e.name} (${e.backend.type})`).join(", ")}. For tests only: never deploy a real workspace this way.\n`,
  );
  for (const { name } of environments) {
    const stackDir = join(run.outdir, "stacks", name);
    const { local } = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")).terraform.backend;
    assert.equal(resolve(stackDir, local.path), join(stateDir, `${name}.tfstate`), name);
    assert.match(local["//"], /^TEST ONLY: local state from STACK_TEST_STATE_DIR/, name);
  }
  assert.equal(synth(t).stderr, "", "the warning without the variable");
});
test("input synth cannot use: exit 1 and one line, no stack trace, from synth and from drift alike", (t) => {
  const bomb = Array.from(
    { length: 9 },
    (_, i) =>
      `l${i}: &l${i} [${Array(9)
        .fill(i ? `*l${i - 1}` : '"lol"')
        .join(", ")}]`,
  ).join("\n");
  const cases: { what: string; args: string[]; prepare: (dir: string) => void; line: RegExp }[] = [
    {
      what: "a YAML alias bomb",
      args: [],
      prepare: (dir) => writeFileSync(join(dir, "dev.yaml"), `${bomb}\n`),
      line: /dev\.yaml: expected YAML whose aliases expand to a bounded size/,
    },
    {
      what: "a directory named like an environment",
      args: [],
      prepare: (dir) => mkdirSync(join(dir, `${UNSHIPPED_ENVIRONMENT}.yaml`)),
      line: new RegExp(`${UNSHIPPED_ENVIRONMENT}\\.yaml: expected a readable YAML file, found a directory$`),
    },
    {
      what: "an environment named twice",
      args: ["dev", "dev"],
      prepare: () => {},
      line: /: expected each environment once, found "dev" named again$/,
    },
    {
      what: "a *.yml file",
      args: [],
      prepare: (dir) => writeFileSync(join(dir, `${UNSHIPPED_ENVIRONMENT}.yml`), "app: {}\n"),
      line: new RegExp(`${UNSHIPPED_ENVIRONMENT}\\.yml: expected the extension \\.yaml`),
    },
    {
      what: "no environments",
      args: [],
      prepare: (dir) => {
        for (const e of SHIPPED_ENVIRONMENTS) rmSync(join(dir, `${e}.yaml`));
      },
      line: /: expected at least one environment file/,
    },
  ];
  for (const { what, args, prepare, line } of cases) {
    const dir = environments(t, {});
    prepare(dir);
    for (const [tool, run] of [
      ["synth", synth(t, args, { STACK_ENVIRONMENTS_DIR: dir })],
      [
        "drift",
        spawnSync(process.execPath, ["--import", "tsx", "tools/drift/main.ts", ...args], {
          cwd: REPO_ROOT,
          env: { ...process.env, STACK_ENVIRONMENTS_DIR: dir },
          encoding: "utf8",
        }),
      ],
    ] as const) {
      assert.equal(run.status, 1, `${tool}, ${what}:\n${run.stderr}`);
      const lines = run.stderr.trimEnd().split("\n");
      assert.deepEqual(
        [lines.length, lines[0]],
        [2, `${tool}: invalid environment configuration (1 problem):`],
        `${tool}, ${what}:\n${run.stderr}`,
      );
      assert.match(lines[1], line, `${tool}, ${what}`);
      assertNoStackTrace(run.stderr);
    }
  }
});
