/**
 * `npm run bench:synth`: how long synthesis takes; what it measures, its targets and its exit codes are its
 * USAGE below.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { environmentNames, environmentsDir } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { runCommand } from "../lib/cli";
import { oneLine } from "../lib/one-line";
import { UserError } from "../lib/user-error";
import { parseRuns } from "./runs";

const USAGE = `usage: npm run bench:synth [-- --runs N]
  How long synthesis takes, measured as ratios inside one run (machines are noisy).

    node       \`node -e 0\`: the floor, Node's own start-up
    direct-3   \`node tools/build/run.cjs main.ts\` for the shipped environments (what \`npm run synth\` does)
    direct-50  the same for 50 generated environments (STACK_ENVIRONMENTS_DIR)
    cdktf-3    \`cdktf synth\` of the same app through the cdktf CLI (the baseline users know)

  Each command runs --runs times (default 5; 3 for the CLI), alternating, after one untimed run that builds
  the precompiled bundle; the median is reported, and how it grows: what each further environment adds
  (direct-50 less direct-3, over the difference in count) and what every run pays whatever the count.
  Targets: direct-3 <= 5x node, cdktf-3 / direct-3 >= 8, direct-50 / direct-3 <= 2.
  Exit codes: 0 every target met, 2 one missed, 1 a mistake to fix (one line), 70 a bug (stack trace).`;

interface Case {
  name: string;
  command: string[];
  env: NodeJS.ProcessEnv;
  runs: number;
  samples: number[];
}
const SYNTH = ["node", "tools/build/run.cjs", "main.ts"];
/** How many environments direct-50 synthesizes. */
const GENERATED = 50;

function benchmark(runs: number): number {
  const work = mkdtempSync(join(tmpdir(), "bench-synth-"));
  const fiftyDir = join(work, "envs-50");
  const cases: Case[] = [
    { name: "node", command: ["node", "-e", "0"], env: {}, runs, samples: [] },
    { name: "direct-3", command: SYNTH, env: { CDKTF_OUTDIR: join(work, "out-3") }, runs, samples: [] },
    {
      name: "direct-50",
      command: SYNTH,
      env: { CDKTF_OUTDIR: join(work, "out-50"), STACK_ENVIRONMENTS_DIR: fiftyDir },
      runs,
      samples: [],
    },
    {
      name: "cdktf-3",
      command: [join(REPO_ROOT, "node_modules", ".bin", "cdktf"), "synth", "--output", join(work, "out-cli")],
      env: { CHECKPOINT_DISABLE: "1", CDKTF_DISABLE_PLUGIN_CACHE_ENV: "1" },
      runs: Math.min(runs, 3),
      samples: [],
    },
  ];

  try {
    generateEnvironments(fiftyDir, GENERATED);
    time({ name: "build", command: SYNTH, env: { CDKTF_OUTDIR: join(work, "out-build") }, runs: 1, samples: [] });
    for (let i = 0; i < runs; i++) {
      for (const c of cases) if (i < c.runs) c.samples.push(time(c));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const median = (name: string) => {
    const s = [...(cases.find((c) => c.name === name)?.samples ?? [])].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  };
  const node = median("node");
  const direct3 = median("direct-3");
  const direct50 = median("direct-50");
  const cli3 = median("cdktf-3");
  const targets = [
    { what: "direct-3 / node", value: `${(direct3 / node).toFixed(2)}x`, ok: direct3 / node <= 5, target: "<= 5x" },
    { what: "cdktf-3 / direct-3", value: `${(cli3 / direct3).toFixed(1)}x`, ok: cli3 / direct3 >= 8, target: ">= 8x" },
    {
      what: "direct-50 / direct-3",
      value: `${(direct50 / direct3).toFixed(2)}x`,
      ok: direct50 / direct3 <= 2,
      target: "<= 2x",
    },
  ];

  console.log(
    `synth benchmark (${runs} runs, medians; machine: ${process.platform} ${process.arch}, node ${process.version})`,
  );
  for (const c of cases)
    console.log(
      `  ${c.name.padEnd(10)} median ${String(median(c.name)).padStart(6)} ms   runs: ${c.samples.join(", ")}`,
    );
  // With the three shipped environments, direct-50 <= 2x direct-3 holds exactly when each further environment
  // costs at most 1/44 of what every run pays.
  const shipped = environmentNames(environmentsDir()).length;
  const perEnvironment = (direct50 - direct3) / (GENERATED - shipped);
  console.log(
    `  each further environment ${perEnvironment.toFixed(1)} ms; every run ${(direct3 - shipped * perEnvironment).toFixed(0)} ms`,
  );
  for (const t of targets)
    console.log(`  ${t.ok ? "ok  " : "MISS"} ${t.what.padEnd(22)} ${t.value.padStart(8)}   target ${t.target}`);
  return targets.every((t) => t.ok) ? 0 : 2;
}

function time(c: Case): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(c.command[0], c.command.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...c.env },
    encoding: "utf8",
  });
  const ms = Number((process.hrtime.bigint() - start) / 1_000_000n);
  if (result.status !== 0)
    throw new UserError(
      `${c.name} failed (exit ${result.status}): ${oneLine(result.stderr || result.stdout) || oneLine(result.error?.message)}`,
    );
  return ms;
}

/** Copies common.yaml and clones dev.yaml into `count` environments with unique names. */
function generateEnvironments(dir: string, count: number): void {
  const source = environmentsDir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "common.yaml"), readFileSync(join(source, "common.yaml")));
  const dev = readFileSync(join(source, "dev.yaml"), "utf8");
  for (let i = 1; i <= count; i++) {
    const name = `e${String(i).padStart(2, "0")}`;
    writeFileSync(join(dir, `${name}.yaml`), dev.replaceAll("dev", name));
  }
}

runCommand({ name: "bench:synth", usage: USAGE, run: ({ argv }) => benchmark(parseRuns(argv, 5)) });
