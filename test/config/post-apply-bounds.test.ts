/**
 * `postApply`: every wait of the post-apply runner has a bound the YAML sets, with a documented default,
 * and a bound PostgreSQL would refuse (or that would mean "no bound") is a config error naming the field.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, formatProblem } from "../../stacks/config/config-error";
import { environmentsDir, loadEnvironments } from "../../stacks/config/load-environments";

const ENVIRONMENTS = environmentsDir({});
/** Every shipped environment but the shared defaults. */
const NAMES = readdirSync(ENVIRONMENTS)
  .filter((f) => f.endsWith(".yaml") && f !== "common.yaml")
  .map((f) => f.replace(/\.yaml$/, ""));

/** The shipped environments with `yaml` as common.yaml's `postApply` section. */
function withPostApply(t: TestContext, yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "envs-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(ENVIRONMENTS, dir, { recursive: true });
  writeFileSync(
    join(dir, "common.yaml"),
    `${readFileSync(join(ENVIRONMENTS, "common.yaml"), "utf8")}postApply:\n${yaml}\n`,
  );
  return dir;
}

test("a bound the YAML leaves out gets its documented default", (t) => {
  for (const config of loadEnvironments({ dir: withPostApply(t, "  {}") })) {
    assert.deepEqual(
      config.postApply,
      {
        instanceReadyTimeoutSeconds: 900,
        lockTimeoutSeconds: 300,
        statementLockTimeoutSeconds: 10,
        statementTimeoutSeconds: 3600,
        releaseTimeoutSeconds: 1200,
      },
      config.name,
    );
  }
});

test("values set in the YAML reach every environment", (t) => {
  const dir = withPostApply(t, "  statementLockTimeoutSeconds: 3\n  statementTimeoutSeconds: 600");
  const configs = loadEnvironments({ dir });
  assert.deepEqual(configs.map((c) => c.name).sort(), [...NAMES].sort());
  for (const config of configs)
    assert.deepEqual(
      [config.postApply.statementLockTimeoutSeconds, config.postApply.statementTimeoutSeconds],
      [3, 600],
    );
});

test("zero, fractions, text and values beyond PostgreSQL's limit are errors naming the field", (t) => {
  const cases: [string, string, RegExp][] = [
    ["statementLockTimeoutSeconds", "0", /^expected at least 1, found 0$/],
    ["statementTimeoutSeconds", "1.5", /^expected a whole number, found 1\.5$/],
    ["statementTimeoutSeconds", "soon", /^expected a number, found "soon"$/],
    ["statementLockTimeoutSeconds", "2147484", /^expected at most 2147483, found 2147484$/],
    ["lockTimeoutSeconds", "2147484", /^expected at most 2147483, found 2147484$/],
  ];
  for (const [field, value, message] of cases) {
    const dir = withPostApply(t, `  ${field}: ${value}`);
    try {
      loadEnvironments({ dir });
      assert.fail(`${field}: ${value} was accepted`);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const problem = error.problems.find((p) => p.field === `postApply.${field}`);
      assert.ok(problem, `no problem with postApply.${field} among:\n${error.message}`);
      assert.match(problem.message, message, formatProblem(problem));
      assert.match(formatProblem(problem), /common\.yaml:\d+:\d+: postApply\./);
    }
  }
});
