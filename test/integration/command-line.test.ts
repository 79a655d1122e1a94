/**
 * The command-line harness (tools/lib/cli.ts) as users meet it, in every entry point run as a process:
 * `--help` prints the usage and exits 0; a mistake its user can fix is one line (or the documented list)
 * starting with the tool's name, exit 1, no stack trace; a fault it did not expect is a bug, printed with its
 * stack trace, exit 70; and a secret value the process was given is masked wherever it is echoed. The
 * benchmarks (every `bench:*` script) share the harness: their `--help`, and a bad `--runs` refused before
 * anything is measured.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { environmentNames, environmentsDir } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { applyStepEnvironment } from "../../tools/lib/post-apply-inputs";

/** Given to every run as a credential; must never be printed. No `/`: some cases put it in a path. */
const SECRET = "canary-cli-7f3e9a";
const ENVIRONMENT = environmentNames(environmentsDir({}))[0];

interface Run {
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

interface EntryPoint {
  /** How its error lines start. */
  readonly tool: string;
  readonly script: string;
  /** Arguments before the case's own (the subcommand). */
  readonly command: readonly string[];
  /** A mistake its user can make, in which it quotes SECRET back. */
  readonly mistake: Run;
  /** Lines of the mistake's message. @default 1 */
  readonly mistakeLines?: number;
  /** A fault it does not expect (`dir` is a fresh temporary directory). */
  readonly bug: (dir: string) => Run;
  /** Whether the fault's message quotes SECRET (a path holding it). */
  readonly bugQuotesSecret: boolean;
}

/** `dir/file`, a regular file: a directory cannot be made under it. */
function fileIn(dir: string): string {
  writeFileSync(join(dir, "file"), "");
  return join(dir, "file");
}

const ENTRY_POINTS: readonly EntryPoint[] = [
  {
    tool: "synth",
    script: "main.ts",
    command: [],
    mistake: { args: [SECRET] },
    // The configuration problems' documented list: a heading and one line per problem.
    mistakeLines: 2,
    bug: (dir) => ({ args: [ENVIRONMENT], env: { CDKTF_OUTDIR: join(fileIn(dir), SECRET) } }),
    bugQuotesSecret: true,
  },
  {
    tool: "plan",
    script: "tools/deploy/main.ts",
    command: ["plan"],
    mistake: { args: [SECRET] },
    bug: (dir) => ({ args: [ENVIRONMENT], env: { CDKTF_OUTDIR: join(fileIn(dir), SECRET) } }),
    bugQuotesSecret: true,
  },
  {
    tool: "drift",
    script: "tools/drift/main.ts",
    command: [],
    mistake: { args: ["--format", SECRET] },
    // The report cannot be written where a directory is in the way (Terraform made unrunnable: no plan is needed for that).
    bug: (dir) => {
      mkdirSync(join(dir, SECRET, "drift-report.md"), { recursive: true });
      return {
        args: [ENVIRONMENT, "--out-dir", join(dir, SECRET)],
        env: { HOME: dir, TERRAFORM_BINARY_NAME: join(dir, "no-terraform") },
      };
    },
    bugQuotesSecret: true,
  },
  {
    tool: "review",
    script: "tools/review/main.ts",
    command: [],
    mistake: { args: ["--format", SECRET] },
    // A directory named like a saved plan.
    bug: (dir) => {
      mkdirSync(join(dir, SECRET, `${ENVIRONMENT}.json`), { recursive: true });
      return { args: ["--plan", join(dir, SECRET)] };
    },
    bugQuotesSecret: false,
  },
  {
    tool: "post-apply",
    script: "tools/post-apply/main.ts",
    command: ["apply"],
    mistake: { args: [], env: { ...applyInputs("/nonexistent"), POST_APPLY_APP_ACCESS: SECRET } },
    // A migration file too large to read (sparse: it takes no space), met before anything is contacted.
    bug: (dir) => {
      writeFileSync(join(dir, "0001_init.sql"), "");
      truncateSync(join(dir, "0001_init.sql"), 3 * 2 ** 30);
      return { args: [], env: applyInputs(dir) };
    },
    bugQuotesSecret: false,
  },
];

/** A complete, valid post-apply environment, as the post-apply step sets it. */
function applyInputs(migrationsDir: string): Record<string, string> {
  return applyStepEnvironment({
    instance: "notes-cli",
    database: "notes",
    schema: "app",
    appRole: "app-role",
    migrationsDir,
    appAccess: "readWrite",
    readOnlyRoles: [],
    configFile: "environments/cli.yaml",
    instanceTimeoutSeconds: 1,
    lockTimeoutSeconds: 1,
    statementLockTimeoutSeconds: 1,
    statementTimeoutSeconds: 1,
  });
}

function run(entry: EntryPoint, { args, env = {} }: Run) {
  const result = spawnSync(process.execPath, ["--import", "tsx", entry.script, ...entry.command, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABRICKS_TOKEN: SECRET, ...env },
    encoding: "utf8",
  });
  assert.ok(!`${result.stdout}${result.stderr}`.includes(SECRET), `the secret leaked:\n${result.stderr}`);
  return result;
}

const STACK_FRAME = /^\s+at /m;

for (const entry of ENTRY_POINTS) {
  const name = [entry.tool === "plan" ? "deploy" : entry.tool, ...entry.command].join(" ");

  test(`${name}: --help and -h print the usage on stdout and exit 0`, () => {
    for (const flag of ["--help", "-h"]) {
      const help = run(entry, { args: [flag] });
      assert.equal(help.status, 0, `${flag}: ${help.stderr}`);
      assert.match(help.stdout, /^usage: /, flag);
      assert.equal(help.stderr, "", flag);
    }
  });

  test(`${name}: a mistake is ${entry.mistakeLines ?? 1} line(s) naming the tool, exit 1, no stack trace, the secret masked`, () => {
    const mistake = run(entry, entry.mistake);
    assert.equal(mistake.status, 1, mistake.stderr);
    assert.ok(mistake.stderr.startsWith(`${entry.tool}`), mistake.stderr);
    assert.equal(mistake.stderr.trimEnd().split("\n").length, entry.mistakeLines ?? 1, mistake.stderr);
    assert.doesNotMatch(mistake.stderr, STACK_FRAME);
    assert.match(mistake.stderr, /\(sensitive\)/, "the secret it echoes is masked, not left out");
  });

  test(`${name}: an unexpected fault is a bug: its stack trace, exit 70, no secret`, (t) => {
    const dir = mkdtempSync(join(tmpdir(), "cli-bug-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const bug = run(entry, entry.bug(dir));
    assert.equal(bug.status, 70, bug.stderr);
    assert.ok(bug.stderr.startsWith(`${entry.tool}: unexpected error (a bug`), bug.stderr);
    assert.match(bug.stderr, STACK_FRAME);
    if (entry.bugQuotesSecret)
      assert.match(bug.stderr, /\(sensitive\)/, "the secret it quotes is masked, not left out");
  });
}

/** Every benchmark, from package.json's `bench:*` scripts: its name and the file the script runs. */
const BENCHES = Object.entries(
  JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts as Record<string, string>,
)
  .filter(([name]) => name.startsWith("bench:"))
  .map(([name, script]) => {
    const file = /tools\/bench\/[\w-]+\.ts/.exec(script)?.[0];
    assert.ok(file, `${name}: no tools/bench/*.ts in "${script}"`);
    return { name, file };
  });

function runBench(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ["--import", "tsx", file, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
}

test("the benchmarks are found in package.json", () => {
  assert.ok(BENCHES.length > 0);
});

for (const { name, file } of BENCHES) {
  test(`${name}: --help prints its usage (--runs and its default, targets, exit codes) on stdout, exit 0`, () => {
    const help = runBench(file, ["--help"]);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^usage: npm run ${name} \\[-- --runs N\\]\n`));
    assert.match(help.stdout, /--runs\b[\s\S]{0,40}\(default \d+/, "the default of --runs");
    assert.match(help.stdout, /Targets?: /);
    assert.match(help.stdout, /Exit codes: 0 .*, 2 .*, 1 .*, 70 /);
    assert.equal(help.stderr, "");
  });

  test(`${name}: --runs 0 is refused before anything runs: one line naming the value, exit 1, no stack trace`, (t) => {
    // Every benchmark's first work makes a temporary directory (its own, or a world's): none may appear.
    const tmp = mkdtempSync(join(tmpdir(), "cli-bench-"));
    t.after(() => rmSync(tmp, { recursive: true, force: true }));
    const refused = runBench(file, ["--runs", "0"], { TMPDIR: tmp });
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(`^${name}: --runs: expected a whole number >= 1, found "0" \\(--help for usage\\)\n$`),
    );
    assert.doesNotMatch(refused.stderr, STACK_FRAME);
    assert.equal(refused.stdout, "");
    assert.deepEqual(
      readdirSync(tmp).filter((entry) => !entry.startsWith("tsx-")),
      [],
      "nothing was set up (tsx's own cache aside)",
    );
  });
}
