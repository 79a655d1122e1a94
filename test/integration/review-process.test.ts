/**
 * `npm run review` as a process, in a small git repository whose `main.ts` stands in for synth: interrupted
 * (SIGTERM, SIGINT, a terminal's Ctrl-C to the whole process group) while it synthesizes, it stops its
 * programs, removes its worktree and temporary directories and ends by that signal; `--out` into a missing
 * directory is one line; what it echoes is masked, encoded or not.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
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
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { git } from "../support/git";
import { alive } from "../support/processes";

const REVIEW = join(REPO_ROOT, "tools", "review", "main.ts");

/** A stand-in for synth that records its process id and working directory, then never ends. */
const HANGING_SYNTH = `import { writeFileSync } from "node:fs";
import { join } from "node:path";
writeFileSync(join(process.env.MARKER_DIR!, String(process.pid)), process.cwd());
setInterval(() => {}, 1_000);
`;
/** A stand-in for synth that synthesizes no stack. */
const EMPTY_SYNTH = "export {};\n";

interface Sandbox {
  /** The repository; its committed main.ts is the base's synth. */
  readonly repo: string;
  readonly base: string;
  /** The review's TMPDIR: everything it creates there must be gone at the end. */
  readonly tmp: string;
  /** Where the stand-in synth records itself. */
  readonly markers: string;
}

function sandbox(t: TestContext, baseSynth: string, headSynth: string): Sandbox {
  const root = mkdtempSync(join(tmpdir(), "review-process-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const [repo, tmp, markers] = ["repo", "tmp", "markers"].map((name) => join(root, name));
  for (const dir of [repo, tmp, markers]) mkdirSync(dir);
  git(repo, "init", "--quiet");
  symlinkSync(join(REPO_ROOT, "node_modules"), join(repo, "node_modules"), "dir");
  writeFileSync(join(repo, ".gitignore"), "node_modules\n");
  writeFileSync(join(repo, "main.ts"), baseSynth);
  git(repo, "add", "-A");
  git(repo, "commit", "--quiet", "-m", "base");
  writeFileSync(join(repo, "main.ts"), headSynth);
  return { repo, base: git(repo, "rev-parse", "HEAD"), tmp, markers };
}

/** Starts the review in a process group of its own, which the test kills at its end whatever happened. */
function startReview(
  t: TestContext,
  box: Sandbox,
): { child: ChildProcess; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, ["--import", "tsx", REVIEW, "--base", box.base], {
    cwd: box.repo,
    env: { ...process.env, TMPDIR: box.tmp, MARKER_DIR: box.markers },
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  t.after(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // Already gone, as it should be.
    }
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, exit };
}

/** The review's temporary directories (tsx keeps its cache beside them). */
function reviewTemporaries(box: Sandbox): string[] {
  return readdirSync(box.tmp)
    .filter((name) => name.startsWith("review-"))
    .map((name) => name.replace(/-\w+$/, ""))
    .sort();
}

/** The stand-in synth once it runs (in the base worktree when `inBase`): its process id. */
async function synthRunning(box: Sandbox, inBase: boolean): Promise<number> {
  for (let waited = 0; waited < 60_000; waited += 100) {
    for (const pid of readdirSync(box.markers)) {
      const cwd = readFileSync(join(box.markers, pid), "utf8");
      if (cwd && cwd.startsWith(box.tmp) === inBase) return Number(pid);
    }
    await sleep(100);
  }
  assert.fail("the stand-in synth never started");
}

function worktrees(repo: string): string[] {
  return git(repo, "worktree", "list", "--porcelain")
    .split("\n")
    .filter((l) => l.startsWith("worktree "));
}

async function assertCleanedUp(
  box: Sandbox,
  signal: NodeJS.Signals,
  exit: ReturnType<typeof startReview>["exit"],
  synth: number,
): Promise<void> {
  const result = await exit;
  assert.equal(result.signal, signal, `ended by ${signal}; code ${result.code}, stderr:\n${result.stderr}`);
  assert.match(
    result.stderr,
    new RegExp(`^review: interrupted by ${signal}; its temporary worktree and directories were removed\\n$`),
  );
  assert.deepEqual(reviewTemporaries(box), [], "no temporary directory left");
  assert.equal(worktrees(box.repo).length, 1, "no worktree left");
  assert.ok(
    !existsSync(join(box.repo, ".git", "worktrees")) || readdirSync(join(box.repo, ".git", "worktrees")).length === 0,
    "no worktree administrative files left",
  );
  assert.equal(alive(synth), false, "the synth it ran was stopped");
}

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  test(`${signal} while the base tree synthesizes: worktree, output directories and the synth are gone`, async (t) => {
    const box = sandbox(t, HANGING_SYNTH, EMPTY_SYNTH);
    const { child, exit } = startReview(t, box);
    const synth = await synthRunning(box, true);
    // What there is to clean up at that moment.
    assert.equal(worktrees(box.repo).length, 2);
    assert.deepEqual(reviewTemporaries(box), ["review-base", "review-synth", "review-synth"]);
    child.kill(signal);
    await assertCleanedUp(box, signal, exit, synth);
  });
}

test("SIGTERM while the working tree synthesizes, before any worktree exists", async (t) => {
  const box = sandbox(t, EMPTY_SYNTH, HANGING_SYNTH);
  const { child, exit } = startReview(t, box);
  const synth = await synthRunning(box, false);
  assert.deepEqual(reviewTemporaries(box), ["review-synth"]);
  child.kill("SIGTERM");
  await assertCleanedUp(box, "SIGTERM", exit, synth);
});

test("Ctrl-C in a terminal (SIGINT to the whole process group) while the base tree synthesizes", async (t) => {
  const box = sandbox(t, HANGING_SYNTH, EMPTY_SYNTH);
  const { child, exit } = startReview(t, box);
  const synth = await synthRunning(box, true);
  process.kill(-child.pid!, "SIGINT");
  await assertCleanedUp(box, "SIGINT", exit, synth);
});

function review(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ["--import", "tsx", REVIEW, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
}

test("--out into a directory that does not exist, or under a file, is one line and exit 1, before any work", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "review-out-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "file"), "");
  const cases: [string, RegExp][] = [
    [
      join(dir, "some", "missing", "dir", "x.md"),
      /^review: --out \S+\/some\/missing\/dir\/x\.md: directory \S+\/some\/missing\/dir does not exist; create it first or write elsewhere\n$/,
    ],
    [join(dir, "file", "x.md"), /^review: --out \S+\/file\/x\.md: \S+\/file is not a directory\n$/],
  ];
  for (const [out, message] of cases) {
    const run = review(["--out", out], { TMPDIR: dir });
    assert.equal(run.status, 1, out);
    assert.match(run.stderr, message);
    assert.equal(run.stdout, "");
    assert.deepEqual(
      readdirSync(dir).filter((name) => !name.startsWith("tsx-")),
      ["file"],
      "nothing synthesized, nothing written",
    );
  }
});

test("a secret the review echoes back is masked also when encoded (the forms: test/unit/secret-masker.test.ts)", () => {
  const secret = "tf-canary review/9f+2";
  for (const echoed of [Buffer.from(secret).toString("base64url"), encodeURIComponent(secret)]) {
    const run = review(["--format", echoed], { TF_VAR_secret_session_signing_key: secret });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^review: --format: expected md or json, found "\(sensitive\)"/, echoed);
    assert.ok(!run.stderr.includes(echoed), `${echoed} leaked: ${run.stderr}`);
  }
});
