/**
 * `npm run bench:deploy`: the cdktf CLI against the fast path (tools/deploy/); what it measures, its targets
 * and its exit codes are its USAGE below.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { environmentNames, environmentsDir, loadEnvironments } from "../../stacks/config/load-environments";
import { runCommand } from "../lib/cli";
import { startDeployWorld, type DeployWorld } from "../lib/local/deploy-world";
import { outputOf } from "../lib/local/project";
import { bootstrappedTerraform } from "../lib/local/toolchain";
import { oneLine } from "../lib/one-line";
import { UserError } from "../lib/user-error";
import { parseRuns } from "./runs";
import { printTable } from "./table";

const USAGE = `usage: npm run bench:deploy [-- --runs N]
  The cdktf CLI against the fast path (tools/deploy/), in one run against the local workspace emulator and a
  real PostgreSQL (started as the e2e tier starts them). The emulator does everything at once, so the times
  are the tools' own overhead, which is what differs between them.

    synth              \`cdktf synth\`                        vs \`npm run synth\`
    plan, no changes   \`cdktf diff dev\`                     vs \`npm run plan -- dev\`
    deploy             \`cdktf deploy dev --auto-approve\`    vs \`npm run deploy -- dev --auto-approve\`:
                       from scratch, with no changes, with one change (an app-src file: upload + release)
    destroy            \`cdktf destroy dev --auto-approve\`   vs \`npm run destroy -- dev --auto-approve\`
    floors             \`terraform plan\` and a no-op \`terraform apply\` alone in cdktf.out/stacks/dev;
                       \`node -e 0\`
    three at once      \`npm run plan -- <every environment>\` (environments/ has three), all deployed

  Each command is what the npm script runs (\`node tools/build/run.cjs …\`), and cdktf is its binary (no npx):
  neither side pays npm's own start-up, which the report shows separately. The cdktf CLI runs with
  --skip-provider-lock (offline, \`terraform providers lock\` cannot reach the registry). Every Terraform run is
  counted through a wrapper (TERRAFORM_BINARY_NAME). Rounds alternate which tool goes first, --runs rounds
  (default 3); medians. Needs \`npm run tools:bootstrap\`.
  Targets: synth >= 8x faster than cdktf's; the fast no-op plan >= 3x faster than \`cdktf diff\` and within 1.4x
  of \`terraform plan\` alone; the fast no-op deploy within 1.5x of a no-op \`terraform apply\` alone; a fast plan
  of three environments within 1.5x of one.
  Exit codes: 0 every target met, 2 one missed, 1 a mistake to fix (one line), 70 a bug (stack trace).`;

/** The Databricks asset bundle (direct engine) against the same emulator, from issue 16: the peer's anchor. */
const BUNDLE_SECONDS = { first: 0.78, plan: 0.1, noop: 0.36, destroy: 0.09 } as const;

type Tool = "cdktf" | "fast";

interface Sample {
  ms: number;
  /** The Terraform subcommands the command ran. */
  terraform: string[];
}

const samples = new Map<string, Sample[]>();

async function main(runs: number): Promise<number> {
  const environments = loadEnvironments({ only: environmentNames(environmentsDir()) });
  const all = environments.map((e) => e.name);
  if (!all.includes("dev"))
    throw new UserError("the benchmark deploys dev again and again: environments/ must have dev.yaml");
  const work = mkdtempSync(join(tmpdir(), "bench-deploy-"));
  let world: DeployWorld | undefined;
  try {
    const log = join(work, "terraform-runs.log");
    const env = { TERRAFORM_BINARY_NAME: countingTerraform(join(work, "bin"), log) };
    world = await startDeployWorld(environments);
    const { project } = world;
    const bench = new Bench(world, env, log);

    // Set up (not timed): every environment deployed, every bundle built and its code cache made.
    bench.run("setup", bench.fast("deploy", [...all, "--auto-approve"]), 0);
    bench.run("setup", ["node_modules/.bin/cdktf", "synth"], 0);

    for (let round = 0; round < runs; round++) {
      const order: Tool[] = round % 2 ? ["fast", "cdktf"] : ["cdktf", "fast"];
      bench.time("node -e 0", ["node", "-e", "0"], 0);
      bench.time("npm run synth", ["npm", "run", "--silent", "synth"], 0);
      for (const tool of order) {
        if (tool === "cdktf") bench.time("synth cdktf", ["node_modules/.bin/cdktf", "synth"], 0);
        else bench.time("synth fast", ["node", "tools/build/run.cjs", "main.ts"], 0);
      }
      for (const tool of order) {
        if (tool === "cdktf")
          bench.time("plan cdktf", ["node_modules/.bin/cdktf", "diff", "dev", "--skip-provider-lock"], 0);
        else bench.time("plan fast", bench.fast("plan", ["dev"]), 0);
      }
      bench.time("plan fast, all", bench.fast("plan", all), 0);
      bench.time(
        "terraform plan alone",
        ["terraform", "plan", "-input=false", "-detailed-exitcode", "-no-color"],
        0,
        "dev",
      );
      bench.time(
        "terraform apply alone, no-op",
        ["terraform", "apply", "-input=false", "-auto-approve", "-no-color"],
        0,
        "dev",
      );
    }

    // Deploys of dev, from scratch to destroyed, by each tool in turn.
    bench.run("setup", bench.fast("destroy", ["dev", "--auto-approve"]), 0);
    for (let round = 0; round < runs; round++) {
      const order: Tool[] = round % 2 ? ["fast", "cdktf"] : ["cdktf", "fast"];
      for (const tool of order) {
        const deploy =
          tool === "cdktf"
            ? ["node_modules/.bin/cdktf", "deploy", "dev", "--auto-approve", "--skip-provider-lock"]
            : bench.fast("deploy", ["dev", "--auto-approve"]);
        bench.time(`deploy ${tool}, first`, deploy, 0);
        bench.time(`deploy ${tool}, no changes`, deploy, 0);
        project.edit("app-src/src/log.ts", (text) => `${text}// bench:deploy round ${round} ${tool}\n`);
        bench.time(`deploy ${tool}, one change`, deploy, 0);
        bench.time(
          `destroy ${tool}`,
          tool === "cdktf"
            ? ["node_modules/.bin/cdktf", "destroy", "dev", "--auto-approve", "--skip-provider-lock"]
            : bench.fast("destroy", ["dev", "--auto-approve"]),
          0,
        );
      }
    }
    return report(all, runs);
  } finally {
    await world?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

class Bench {
  constructor(
    private readonly world: DeployWorld,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: string,
  ) {}

  /** The command an npm script of the fast path runs. */
  fast(script: "plan" | "deploy" | "destroy", args: string[]): string[] {
    return ["node", "tools/build/run.cjs", "tools/deploy/main.ts", script, ...args];
  }

  /** Runs `command` in the project copy (or in a stack directory); fails the benchmark unless it exits `status`. */
  run(name: string, command: string[], status: number, stack?: string): Sample {
    const before = this.terraformRuns().length;
    const start = process.hrtime.bigint();
    const result = stack
      ? this.world.project.terraform(stack, command.slice(1), { ...this.env, TF_IN_AUTOMATION: "1" })
      : this.world.project.run(command[0], command.slice(1), this.env);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== status)
      throw new UserError(`${name}: ${command.join(" ")} expected to exit ${status}: ${oneLine(outputOf(result, 3))}`);
    return { ms, terraform: this.terraformRuns().slice(before) };
  }

  time(name: string, command: string[], status: number, stack?: string): void {
    const sample = this.run(name, command, status, stack);
    samples.set(name, [...(samples.get(name) ?? []), sample]);
  }

  private terraformRuns(): string[] {
    try {
      return readFileSync(this.log, "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }
}

/** A `terraform` that records its subcommand in `log`, then runs the real one. */
function countingTerraform(dir: string, log: string): string {
  const real = bootstrappedTerraform();
  mkdirSync(dir, { recursive: true });
  const wrapper = join(dir, "terraform");
  writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${log}'\nexec '${real}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

function median(name: string): number {
  const sorted = (samples.get(name) ?? []).map((s) => s.ms).sort((a, b) => a - b);
  if (!sorted.length) throw new Error(`no samples of ${name}`);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The Terraform subcommands of the last sample of `name`, e.g. `init, plan, apply`. */
function terraformRuns(name: string): string {
  const runs = samples.get(name)?.at(-1)?.terraform ?? [];
  return `${runs.length} (${runs.join(", ") || "none"})`;
}

function report(all: readonly string[], runs: number): number {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const x = (ratio: number) => `${ratio.toFixed(2)}x`;
  console.log(
    `deploy benchmark (${runs} rounds, medians; emulator + PostgreSQL on localhost; ${process.platform} ${process.arch}, node ${process.version})`,
  );
  const rows: string[][] = [
    ["operation", "cdktf CLI", "fast path", "cdktf / fast", "Terraform runs (cdktf | fast)", "asset bundle (issue 16)"],
  ];
  const pair = (label: string, cdktf: string, fast: string, bundle?: number) =>
    rows.push([
      label,
      s(median(cdktf)),
      s(median(fast)),
      x(median(cdktf) / median(fast)),
      `${terraformRuns(cdktf)} | ${terraformRuns(fast)}`,
      bundle === undefined ? "" : `${bundle.toFixed(2)} s`,
    ]);
  pair("synth (3 stacks)", "synth cdktf", "synth fast");
  pair("plan dev, no changes", "plan cdktf", "plan fast", BUNDLE_SECONDS.plan);
  pair("deploy dev from scratch", "deploy cdktf, first", "deploy fast, first", BUNDLE_SECONDS.first);
  pair("deploy dev, no changes", "deploy cdktf, no changes", "deploy fast, no changes", BUNDLE_SECONDS.noop);
  pair("deploy dev, one change", "deploy cdktf, one change", "deploy fast, one change");
  pair("destroy dev", "destroy cdktf", "destroy fast", BUNDLE_SECONDS.destroy);
  printTable(rows, [1, 2, 3, 4, 5]);
  console.log();
  printTable(
    [
      ["floor", "median"],
      ["terraform plan alone (dev, no changes)", s(median("terraform plan alone"))],
      ["terraform apply alone (dev, no-op)", s(median("terraform apply alone, no-op"))],
      [`fast plan of ${all.join(", ")}`, s(median("plan fast, all"))],
      ["node -e 0", s(median("node -e 0"))],
      [
        "npm's own start-up (npm run synth - synth fast), not counted above",
        s(median("npm run synth") - median("synth fast")),
      ],
    ],
    [1],
  );
  const targets = [
    {
      what: "synth: cdktf / fast",
      ratio: median("synth cdktf") / median("synth fast"),
      ok: (r: number) => r >= 8,
      target: ">= 8x",
    },
    {
      what: "no-op plan: cdktf diff / fast",
      ratio: median("plan cdktf") / median("plan fast"),
      ok: (r: number) => r >= 3,
      target: ">= 3x",
    },
    {
      what: "no-op plan: fast / terraform plan",
      ratio: median("plan fast") / median("terraform plan alone"),
      ok: (r: number) => r <= 1.4,
      target: "<= 1.4x",
    },
    {
      what: "no-op deploy: fast / terraform apply",
      ratio: median("deploy fast, no changes") / median("terraform apply alone, no-op"),
      ok: (r: number) => r <= 1.5,
      target: "<= 1.5x",
    },
    {
      what: `plan of ${all.length} / plan of one`,
      ratio: median("plan fast, all") / median("plan fast"),
      ok: (r: number) => r <= 1.5,
      target: "<= 1.5x",
    },
  ];
  console.log();
  for (const t of targets)
    console.log(
      `  ${t.ok(t.ratio) ? "ok  " : "MISS"} ${t.what.padEnd(38)} ${x(t.ratio).padStart(7)}   target ${t.target}`,
    );
  return targets.every((t) => t.ok(t.ratio)) ? 0 : 2;
}

runCommand({ name: "bench:deploy", usage: USAGE, run: ({ argv }) => main(parseRuns(argv, 3)) });
