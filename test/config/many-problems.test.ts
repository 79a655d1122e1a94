/**
 * Reporting N problems costs O(N): 40,000 unknown keys took over a minute when each was located by scanning
 * its mapping (and yaml checked each key against every key before it). Machines differ and CI shares cores, so
 * the loader is timed against a baseline measured in the same run on the same file: parsing it with the yaml
 * library in its linear mode, which loading cannot avoid. A linear loader takes a small multiple of that
 * (about 2x); a quadratic one, at this size, over 100x (measured with yaml's own quadratic key check back on).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { ConfigError } from "../../stacks/config/config-error";
import { environmentsDir, loadEnvironments } from "../../stacks/config/load-environments";

const UNKNOWN_KEYS = 60_000;
const BOUND = 10;

function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

test(`${UNKNOWN_KEYS} unknown keys are reported in time linear in their number`, () => {
  const dir = mkdtempSync(join(tmpdir(), "envs-many-"));
  try {
    const real = environmentsDir({});
    const unknown = Array.from({ length: UNKNOWN_KEYS }, (_, i) => `  unknown${i}: ${i}\n`).join("");
    const text = readFileSync(join(real, "dev.yaml"), "utf8").replace("app:\n", `app:\n${unknown}`);
    writeFileSync(join(dir, "common.yaml"), readFileSync(join(real, "common.yaml")));
    writeFileSync(join(dir, "dev.yaml"), text);

    let problems = 0;
    const load = () => {
      try {
        loadEnvironments({ dir });
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problems = e.problems.length;
      }
    };
    const parse = () => parseDocument(text, { uniqueKeys: false }).toJS();
    const before = timed(parse);
    timed(load); // warm-up: the first run also compiles the loader's code
    const loading = timed(load);
    // Parsed before and after, so that a change of machine load during the run weighs on both sides.
    const baseline = (before + timed(parse)) / 2;

    assert.equal(problems, UNKNOWN_KEYS);
    assert.ok(
      loading < BOUND * baseline,
      `loading took ${Math.round(loading)} ms, ${(loading / baseline).toFixed(1)}x parsing the file (${Math.round(baseline)} ms); expected under ${BOUND}x`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
