/**
 * `npm run drift`: drift detection, read-only, for every environment (or those named), in parallel; how to call
 * it and its exit codes are its USAGE below.
 *
 * Compares each environment with this commit: a refreshing Terraform plan of its stack (synthesized into a
 * temporary directory; `-lock=false`, no state written), the Lakebase instance's input-only fields (which
 * `terraform plan` cannot see), the release, and the database (migrations, roles, access, ownership).
 * Credentials as for a deploy, from the environment only (DATABRICKS_*, the state backend's, TF_VAR_secret_*).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadEnvironments } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { type CommandContext, runCommand, UsageError } from "../lib/cli";
import { checkEnvironment } from "./check-environment";
import { type DriftReport, exitCode, renderJson, renderMarkdown } from "./report";
import { synthesizeStacks } from "./stacks";

const USAGE = `usage: npm run drift -- [environment ...] [--format md|json] [--out-dir DIR]
  Compares every environment (or those named) with this commit, read-only; the report goes to stdout,
  and with --out-dir also to DIR/drift-report.md, DIR/drift-report.json and DIR/drift-<environment>.md.
  Exit codes: 0 clean, 2 drift found, 1 an environment could not be checked (the others are still reported)
  or a mistake in the arguments or configuration, 70 a bug (stack trace).`;

const RENDER = { md: renderMarkdown, json: renderJson } as const;

async function main({ argv, env, mask }: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { format: { type: "string", default: "md" }, "out-dir": { type: "string" } },
    allowPositionals: true,
  });
  const format = values.format;
  if (format !== "md" && format !== "json")
    throw new UsageError(`--format: expected md or json, found ${JSON.stringify(format)}`);

  const configs = loadEnvironments({ only: positionals });
  const synthesized = synthesizeStacks(
    configs.map((c) => c.name),
    env,
  );
  // The temporary stacks hold saved plans, which hold secret values: gone however the run ends.
  const interrupted = () => {
    synthesized.remove();
    process.exit(130);
  };
  process.once("SIGINT", interrupted).once("SIGTERM", interrupted);
  let report: DriftReport;
  try {
    report = {
      commit: headCommit(),
      generatedAt: new Date().toISOString(),
      environments: await Promise.all(
        configs.map((config) => checkEnvironment(config, synthesized.stacks.get(config.name), synthesized.error, env)),
      ),
    };
  } finally {
    synthesized.remove();
    process.off("SIGINT", interrupted).off("SIGTERM", interrupted);
  }
  const outDir = values["out-dir"];
  if (outDir) {
    mkdirSync(resolve(outDir), { recursive: true });
    for (const [extension, render] of Object.entries(RENDER))
      writeFileSync(join(resolve(outDir), `drift-report.${extension}`), mask(render(report)));
    // One Markdown report per environment too: the scheduled workflow keeps one GitHub issue per environment.
    for (const result of report.environments) {
      writeFileSync(
        join(resolve(outDir), `drift-${result.environment}.md`),
        mask(renderMarkdown({ ...report, environments: [result] })),
      );
    }
  }
  process.stdout.write(mask(RENDER[format](report)));
  return exitCode(report);
}

/** The commit checked out, and whether the working tree differs from it; what a tree that is no git checkout is compared as. */
function headCommit(): string {
  const git = (args: string[]) => spawnSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" });
  const head = git(["rev-parse", "HEAD"]);
  if (head.status !== 0) return "working tree (not a git checkout)";
  return `${head.stdout.trim()}${git(["status", "--porcelain"]).stdout.trim() ? " with uncommitted changes" : ""}`;
}

runCommand({ name: "drift", usage: USAGE, run: main });
