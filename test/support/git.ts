import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

/** Runs `git args` in `cwd` with a fixed author (test repositories have none configured); fails the test on a non-zero exit. */
export function git(cwd: string, ...args: string[]): string {
  const result = spawnSync("git", ["-c", "user.name=review test", "-c", "user.email=review@test.invalid", ...args], {
    cwd,
    encoding: "utf8",
  });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}
