/**
 * `npm run bench:drift`: whether drift scales across environments; what it measures, its target and its exit
 * codes are its USAGE below.
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { loadEnvironments } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { runCommand } from "../lib/cli";
import { startEmulatedProject } from "../lib/local/emulated-project";
import { oneLine } from "../lib/one-line";
import { UserError } from "../lib/user-error";
import { parseRuns } from "./runs";

const TARGET_RATIO = 1.5;

const USAGE = `usage: npm run bench:drift [-- --runs N]
  Whether drift scales across environments, as the ratio of two measurements in one run (machines are noisy).
  Three environments (generated from the first non-production one) are deployed with the real cdktf CLI and
  provider into the workspace emulator and a real PostgreSQL (the e2e tier's setup), then, alternating,
  --runs times each (default 3):

    one     \`node tools/build/run.cjs tools/drift/main.ts <env1>\` (what \`npm run drift\` runs): a whole clean
            drift run of one environment
    three   the same for all three environments, which it checks in parallel

  Wall time on a shared machine depends on what else runs; each run's CPU time (the drift process and all it
  waited for: Terraform, the provider) does not, so it is reported next to it.
  Target: three / one <= ${TARGET_RATIO} (medians). Needs \`npm run tools:bootstrap\`.
  Exit codes: 0 target met, 2 missed, 1 a mistake to fix (one line), 70 a bug (stack trace).`;

/** One clean drift run: its wall time and its CPU time (its own and all it waited for), in seconds. */
interface Sample {
  readonly wall: number;
  readonly cpu: number;
}

async function main(runs: number): Promise<number> {
  const world = await startEmulatedProject();
  try {
    // Three environments like the first non-production one, each with names (and a database) of its own.
    const [template] = loadEnvironments({ dir: join(REPO_ROOT, "environments") }).filter((e) => !e.production);
    const names = ["bench-a", "bench-b", "bench-c"];
    const templateText = readFileSync(join(world.project.dir, "environments", `${template.name}.yaml`), "utf8");
    for (const name of names) {
      world.project.edit(`environments/${name}.yaml`, () => {
        // notes-dev → notes-bench-a, notes_dev → notes_bench_a (catalog names take no hyphens).
        const renamed = templateText.replace(
          new RegExp(`([-_])${template.name}\\b`, "g"),
          (_, separator: string) => separator + (separator === "_" ? name.replace(/-/g, "_") : name),
        );
        const doc = parseDocument(renamed);
        doc.setIn(["database", "name"], `notes_${name.replace(/-/g, "_")}`);
        return doc.toString();
      });
    }
    world.deploy(...names);

    const measure = (environments: string[]): Sample => {
      const start = performance.now();
      const cpuBefore = childCpuSeconds();
      const result = world.tool("tools/build/run.cjs", ["tools/drift/main.ts", ...environments, "--format", "json"]);
      const sample = { wall: (performance.now() - start) / 1000, cpu: childCpuSeconds() - cpuBefore };
      if (result.status !== 0)
        throw new UserError(
          `drift ${environments.join(" ")} exited ${result.status} (expected 0: clean): ${oneLine(result.stderr || result.stdout)}`,
        );
      return sample;
    };
    measure(names); // warm-up: file caches, the provider binary, the precompiled bundle
    const one: Sample[] = [];
    const three: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      one.push(measure(names.slice(0, 1)));
      three.push(measure(names));
    }
    const ratio = median(three.map((s) => s.wall)) / median(one.map((s) => s.wall));
    const met = ratio <= TARGET_RATIO;
    const line = (samples: readonly Sample[]) =>
      `${median(samples.map((s) => s.wall)).toFixed(1)} s   (${samples.map((s) => s.wall.toFixed(1)).join(", ")}); ` +
      `CPU ${median(samples.map((s) => s.cpu)).toFixed(2)} s`;
    console.log(
      `drift benchmark (medians of ${runs}; ${cpus().length} CPUs, ${process.platform} ${process.arch}, node ${process.version}; ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")})`,
    );
    console.log(`  one environment     ${line(one)}`);
    console.log(`  three in parallel   ${line(three)}`);
    console.log(`  three / one         ${ratio.toFixed(2)}x   target <= ${TARGET_RATIO}x: ${met ? "met" : "MISSED"}`);
    const furtherCpu = (median(three.map((s) => s.cpu)) - median(one.map((s) => s.cpu))) / 2;
    console.log(`  CPU per further environment ${furtherCpu.toFixed(2)} s`);
    return met ? 0 : 2;
  } finally {
    await world.stop();
  }
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** User + system CPU seconds of this process's finished children (and theirs), from /proc (Linux; clock ticks of 1/100 s). */
function childCpuSeconds(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

runCommand({ name: "bench:drift", usage: USAGE, run: ({ argv }) => main(parseRuns(argv, 3)) });
