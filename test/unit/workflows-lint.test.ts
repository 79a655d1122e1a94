/** actionlint on every workflow: expressions, contexts, job and step keys, action inputs. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { actionlint } from "../support/actionlint";
import { WORKFLOWS_DIR } from "../support/workflow";

const workflows = readdirSync(WORKFLOWS_DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => ({ path: join(".github", "workflows", f), text: readFileSync(join(WORKFLOWS_DIR, f), "utf8") }));

test("actionlint finds nothing in any workflow, and reports a broken one (the check can fail)", () => {
  assert.ok(
    workflows.some((w) => w.path.endsWith("deploy.yml")) && workflows.some((w) => w.path.endsWith("review.yml")),
  );
  const environment = workflows.find((w) => w.path.endsWith("deploy-environment.yml"))!;
  const broken = {
    path: environment.path,
    text: environment.text
      .replace("environment: ${{ inputs.environment }}-plan", "environment: ${{ inputs.enviroment }}-plan")
      .replace("if-no-files-found: error", "if-no-file-found: error"),
  };
  const [brokenProblems, ...results] = actionlint([broken, ...workflows]);

  for (const [i, w] of workflows.entries())
    assert.deepEqual(
      results[i].map((p) => `${w.path}:${p.line}:${p.column}: ${p.message} [${p.kind}]`),
      [],
      w.path,
    );
  assert.ok(
    brokenProblems.some((p) => p.kind === "expression" && p.message.includes('"enviroment"')),
    JSON.stringify(brokenProblems),
  );
  assert.ok(
    brokenProblems.some((p) => p.kind === "action" && p.message.includes('"if-no-file-found"')),
    JSON.stringify(brokenProblems),
  );
});
