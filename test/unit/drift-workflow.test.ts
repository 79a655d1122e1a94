/** The scheduled drift workflow: its triggers and permissions, and how it treats each exit code of the drift run. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readWorkflow, runStep } from "../support/workflow";

const workflow = readWorkflow("drift.yml");
const steps = workflow.jobs.drift.steps;
const driftStep = steps.find((s) => s.run?.includes("npm run --silent drift"))!;

test("the drift workflow is scheduled and manual, may write issues, and gets credentials only as secrets", () => {
  assert.ok(Array.isArray(workflow.on.schedule) && workflow.on.schedule[0].cron);
  assert.ok("workflow_dispatch" in workflow.on);
  assert.deepEqual(workflow.permissions, { contents: "read", issues: "write" });
  assert.deepEqual(driftStep.env, {
    DATABRICKS_HOST: "${{ secrets.DATABRICKS_HOST }}",
    DATABRICKS_CLIENT_ID: "${{ secrets.DATABRICKS_CLIENT_ID }}",
    DATABRICKS_CLIENT_SECRET: "${{ secrets.DATABRICKS_CLIENT_SECRET }}",
    ENVIRONMENTS: "${{ inputs.environments }}",
  });
  const script = steps.find((s) => s.uses?.startsWith("actions/github-script@"))?.with?.script as string;
  // One issue per environment: created, updated, closed when clean; its body is the tool's own per-environment report.
  for (const call of ["issues.create", "issues.update", 'state: "closed"', "drift-report/drift-${result.environment}.md"]) assert.ok(script.includes(call), call);
  assert.equal(steps.at(-1)?.if, "steps.drift.outputs.status == '1'");
});

test("drift (2) and clean (0) runs go on to the issues; an error without a report stops; status is passed on", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "drift-workflow-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A stand-in npm: exits with the given status, writing a report unless told not to.
  writeFileSync(join(dir, "npm"), '#!/bin/sh\nif [ "$FAKE_WRITES_REPORT" = 1 ]; then mkdir -p drift-report && echo "{}" > drift-report/drift-report.json; fi\nexit "$FAKE_DRIFT_STATUS"\n');
  chmodSync(join(dir, "npm"), 0o755);
  for (const [status, writes, step] of [[0, 1, 0], [2, 1, 0], [1, 1, 0], [1, 0, 1]]) {
    rmSync(join(dir, "drift-report"), { recursive: true, force: true });
    const output = join(dir, "github-output");
    writeFileSync(output, "");
    const result = runStep(driftStep, {
      cwd: dir,
      env: { PATH: `${dir}:${process.env.PATH}`, FAKE_DRIFT_STATUS: String(status), FAKE_WRITES_REPORT: String(writes), GITHUB_OUTPUT: output, ENVIRONMENTS: "" },
    });
    assert.equal(result.status, step, `drift exit ${status}, report written: ${writes}`);
    assert.equal(readFileSync(output, "utf8"), `status=${status}\n`);
  }
});
