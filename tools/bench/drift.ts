/**
 * `npm run bench:drift`: whether drift scales across environments, as the ratio of two measurements in one
 * run (machines are noisy). Three environments (generated from the first non-production one) are deployed
 * with the real cdktf CLI and provider into the workspace emulator and a real PostgreSQL (the e2e tier's
 * setup), then, alternating, `--runs` times each (default 3):
 *
 *   one     `node --import tsx tools/drift/main.ts <env1>`: a whole clean drift run of one environment
 *   three   the same for all three environments, which it checks in parallel
 *
 * Target: three / one <= 1.5 (medians). Exit code: 0 met, 2 missed, 1 error.
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseDocument } from "yaml";
import { loadEnvironments } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { startEmulatedProject } from "../lib/local/emulated-project";

const TARGET_RATIO = 1.5;

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`bench:drift: --runs expects a whole number >= 1, found "${values.runs}"`);
  process.exit(1);
}

async function main(): Promise<number> {
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

    const time = (environments: string[]): number => {
      const start = performance.now();
      const result = world.tool("tools/drift/main.ts", [...environments, "--format", "json"]);
      const elapsed = performance.now() - start;
      if (result.status !== 0)
        throw new Error(
          `drift ${environments.join(" ")} exited ${result.status} (expected 0: clean):\n${result.stdout}\n${result.stderr}`,
        );
      return elapsed;
    };
    time(names); // warm-up: file caches, the provider binary
    const one: number[] = [];
    const three: number[] = [];
    for (let i = 0; i < runs; i++) {
      one.push(time(names.slice(0, 1)));
      three.push(time(names));
    }
    const ratio = median(three) / median(one);
    const met = ratio <= TARGET_RATIO;
    console.log(
      `drift benchmark (medians of ${runs}; ${cpus().length} CPUs, ${process.platform} ${process.arch}, node ${process.version})`,
    );
    console.log(`  one environment     ${seconds(one)}   (${one.map((ms) => (ms / 1000).toFixed(1)).join(", ")})`);
    console.log(`  three in parallel   ${seconds(three)}   (${three.map((ms) => (ms / 1000).toFixed(1)).join(", ")})`);
    console.log(`  three / one         ${ratio.toFixed(2)}x   target <= ${TARGET_RATIO}x: ${met ? "met" : "MISSED"}`);
    return met ? 0 : 2;
  } finally {
    await world.stop();
  }
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function seconds(samples: readonly number[]): string {
  return `${(median(samples) / 1000).toFixed(1)} s`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench:drift: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
