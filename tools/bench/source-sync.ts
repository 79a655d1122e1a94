/**
 * `npm run bench:source`: does the cost of the app's source grow with its size? What it measures, its targets
 * and its exit codes are its USAGE below.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "../../stacks/cdktf";
import { AppStack } from "../../stacks/app-stack";
import { loadEnvironments } from "../../stacks/config/load-environments";
import { APP_SOURCE_DIR } from "../../stacks/repo-paths";
import { appSourceFiles } from "../../stacks/source/app-source-files";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { runCommand } from "../lib/cli";
import { startEmulator } from "../lib/local/emulator";
import { secretValues, workspaceFor } from "../lib/local/project";
import { bootstrappedTerraform } from "../lib/local/toolchain";
import { oneLine } from "../lib/one-line";
import { UserError } from "../lib/user-error";
import { parseRuns } from "./runs";

const USAGE = `usage: npm run bench:source [-- --runs N]
  Does the cost of the app's source grow with its size? Measured in one run against the workspace emulator,
  with the real Terraform and provider, for an app of 16 files and one of 1,000:

    first      \`terraform apply\` of the dev stack from nothing (upload of every file, deployment included)
    no-op      \`terraform plan\` with nothing to do (every plan and drift run pays this)
    one-file   \`terraform apply\` after editing one file (it must upload exactly one)

  Targets: no-op(1,000) <= 1.5 x no-op(16); first(1,000) <= 2 x first(16); one-file uploads 1 file.
  Each timing is the median of --runs (default 3) fresh environments. Needs \`npm run tools:bootstrap\`
  (it sources .tools/env).
  Exit codes: 0 every target met, 2 one missed, 1 a mistake to fix (one line), 70 a bug (stack trace).`;

/** The shipped app plus generated files (a frontend build, say) up to `total` files, in `work`. */
function appWithFiles(work: string, total: number): string {
  const dir = join(work, `app-${total}`);
  cpSync(APP_SOURCE_DIR, dir, { recursive: true, filter: (src) => !/node_modules|dist/.test(src) });
  const missing = total - appSourceFiles(dir).length;
  mkdirSync(join(dir, "static"), { recursive: true });
  for (let i = 0; i < missing; i++)
    writeFileSync(join(dir, "static", `asset-${String(i).padStart(4, "0")}.js`), `export const asset${i} = ${i};\n`);
  if (appSourceFiles(dir).length !== total) throw new Error(`expected ${total} files in ${dir}`);
  return dir;
}

interface Sample {
  first: number;
  noop: number;
  oneFile: number;
  uploaded: string;
}

async function measure(dev: EnvironmentConfig, work: string, sourceDir: string, round: number): Promise<Sample> {
  const emulator = await startEmulator({ ...workspaceFor([dev]), appDelayMs: 50 });
  const outdir = join(work, `out-${round}-${Date.now()}`);
  try {
    const app = new App({ outdir });
    new AppStack(app, "dev", { config: dev, sourceDir, state: { testStateDir: join(outdir, "state") } });
    app.synth();
    const stackDir = join(outdir, "stacks", "dev");
    const env = {
      ...process.env,
      ...emulator.env,
      ...secretValues([dev]),
      CHECKPOINT_DISABLE: "1",
      TF_IN_AUTOMATION: "1",
    };
    const terraform = (args: string[]) => {
      const started = performance.now();
      const result = spawnSync(bootstrappedTerraform(), args, {
        cwd: stackDir,
        env,
        encoding: "utf8",
        maxBuffer: 64 << 20,
      });
      if (result.status !== 0)
        throw new UserError(
          `terraform ${args.join(" ")} exited ${result.status}: ${oneLine(result.stderr || result.stdout) || oneLine(result.error?.message)}`,
        );
      return { seconds: (performance.now() - started) / 1000, output: result.stdout };
    };
    terraform(["init", "-input=false"]);
    const first = terraform(["apply", "-auto-approve", "-input=false"]).seconds;
    const noop = terraform(["plan", "-input=false", "-detailed-exitcode"]).seconds;
    // One edited file: synth again (the stack pins the source's hash), then apply.
    writeFileSync(join(sourceDir, "src", "log.ts"), `// bench round ${round}\n`, { flag: "a" });
    const again = new App({ outdir });
    new AppStack(again, "dev", { config: dev, sourceDir, state: { testStateDir: join(outdir, "state") } });
    again.synth();
    const oneFile = terraform(["apply", "-auto-approve", "-input=false"]);
    const uploaded = /source +(\d+) of (\d+) files? uploaded/.exec(oneFile.output);
    return {
      first,
      noop,
      oneFile: oneFile.seconds,
      uploaded: uploaded ? `${uploaded[1]} of ${uploaded[2]}` : "unknown",
    };
  } finally {
    await emulator.stop();
    rmSync(outdir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(runs: number): Promise<number> {
  const [dev] = loadEnvironments({ only: ["dev"] });
  const work = mkdtempSync(join(tmpdir(), "bench-source-"));
  const sizes = [16, 1000];
  const samples: Record<number, Sample[]> = { 16: [], 1000: [] };
  try {
    const dirs = Object.fromEntries(sizes.map((n) => [n, appWithFiles(work, n)]));
    for (let round = 0; round < runs; round++) {
      for (const n of sizes) samples[n].push(await measure(dev, work, dirs[n], round));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const stat = (n: number, key: "first" | "noop" | "oneFile") => median(samples[n].map((s) => s[key]));
  for (const n of sizes) {
    console.log(
      `${String(n).padStart(5)} files: first apply ${stat(n, "first").toFixed(2)} s, no-op plan ${stat(n, "noop").toFixed(2)} s, one-file apply ${stat(n, "oneFile").toFixed(2)} s (uploaded ${samples[n].map((s) => s.uploaded).join(", ")})`,
    );
  }
  const checks: [string, number, number][] = [
    ["no-op plan, 1,000 / 16 files", stat(1000, "noop") / stat(16, "noop"), 1.5],
    ["first apply, 1,000 / 16 files", stat(1000, "first") / stat(16, "first"), 2],
  ];
  let missed = false;
  for (const [name, ratio, limit] of checks) {
    const ok = ratio <= limit;
    missed ||= !ok;
    console.log(`${ok ? "ok  " : "MISS"} ${name}: ${ratio.toFixed(2)}x (target <= ${limit}x)`);
  }
  const oneUpload = sizes.every((n) => samples[n].every((s) => s.uploaded.startsWith("1 of ")));
  console.log(`${oneUpload ? "ok  " : "MISS"} a one-file change uploads one file`);
  return missed || !oneUpload ? 2 : 0;
}

runCommand({ name: "bench:source", usage: USAGE, run: ({ argv }) => main(parseRuns(argv, 3)) });
