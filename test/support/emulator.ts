import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { REPO_ROOT } from "../../stacks/repo-paths";
import type { Emulator } from "../../tools/lib/local/emulator";

/**
 * Runs one of the repository's tools (e.g. `tools/post-apply/main.ts`) as a deploy or CI job would: a separate
 * process whose only credentials are the usual Databricks variables, against the emulator and its instances'
 * PostgreSQL. Fails the test if any credential is printed.
 */
export function runToolAgainst(emulator: Emulator, script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync("node", ["--import", "tsx", script, ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    // A run that hangs (e.g. waiting for a lock it should not take) is killed and fails.
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...emulator.env, ...env },
  });
  const output = `${result.stdout}\n${result.stderr}`;
  for (const secret of [emulator.workspaceToken, emulator.dbToken])
    assert.ok(!output.includes(secret), `a credential was printed:\n${output}`);
  return { status: result.status, stdout: result.stdout, output };
}
