/**
 * Drift detection, read-only, for every environment (or those named), in parallel:
 *
 *   npm run drift -- [env ...] [--format md|json] [--out-dir DIR]
 *
 * --out-dir writes drift-report.md and drift-report.json (all environments) and drift-<env>.md (each one).
 *
 * Compares each environment with this commit: the Lakebase instance's input-only fields (which
 * `terraform plan` cannot see) and the database (migrations, the configured roles' access, ownership in
 * the app schema). Credentials as for the post-apply runner, from the environment only.
 * Exit codes: 0 clean, 2 drift found, 1 an environment could not be checked (the others are still reported).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../../stacks/config/config-error";
import { loadEnvironments } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { secretMasker, secretsOf } from "../lib/secret-masker";
import { messageOf } from "../post-apply/step-error";
import { checkEnvironment } from "./check-environment";
import { type DriftReport, exitCode, renderJson, renderMarkdown, TERRAFORM_NOT_CHECKED } from "./report";

const USAGE = "usage: npm run drift -- [environment ...] [--format md|json] [--out-dir DIR]";

const RENDER = { md: renderMarkdown, json: renderJson } as const;

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const mask = secretMasker(secretsOf(env));
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { format: { type: "string", default: "md" }, "out-dir": { type: "string" }, help: { type: "boolean", short: "h", default: false } },
      allowPositionals: true,
    });
    if (values.help) return print(process.stdout, USAGE, 0);
    const format = values.format;
    if (format !== "md" && format !== "json") throw new Error(`--format: expected md or json, found ${JSON.stringify(format)}`);

    const configs = loadEnvironments({ only: positionals });
    const report: DriftReport = {
      commit: execFileSync("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim(),
      generatedAt: new Date().toISOString(),
      terraform: { checked: false, reason: TERRAFORM_NOT_CHECKED },
      environments: await Promise.all(configs.map((config) => checkEnvironment(config, env))),
    };
    const outDir = values["out-dir"];
    if (outDir) {
      mkdirSync(resolve(outDir), { recursive: true });
      for (const [extension, render] of Object.entries(RENDER)) writeFileSync(join(resolve(outDir), `drift-report.${extension}`), mask(render(report)));
      // One Markdown report per environment too: the scheduled workflow keeps one GitHub issue per environment.
      for (const result of report.environments) {
        writeFileSync(join(resolve(outDir), `drift-${result.environment}.md`), mask(renderMarkdown({ ...report, environments: [result] })));
      }
    }
    process.stdout.write(mask(RENDER[format](report)));
    return exitCode(report);
  } catch (error) {
    if (error instanceof ConfigError) return print(process.stderr, mask(error.message), 1);
    return print(process.stderr, mask(`drift failed: ${messageOf(error)}\n${USAGE}`), 1);
  }
}

function print(stream: NodeJS.WriteStream, text: string, code: number): number {
  stream.write(`${text}\n`);
  return code;
}

main(process.argv.slice(2), process.env).then((code) => {
  process.exitCode = code;
});
