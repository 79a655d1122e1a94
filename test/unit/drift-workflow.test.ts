/** The scheduled drift workflow: its triggers, its job per environment with that environment's secrets, and how it treats each exit code. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { environmentNames } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { readWorkflow, runStep } from "../support/workflow";

const workflow = readWorkflow("drift.yml");
const listStep = workflow.jobs.environments.steps.find((s) => s.id === "list")!;
const drift = workflow.jobs.drift;
const steps = drift.steps;
const driftStep = steps.find((s) => s.run?.includes("npm run --silent drift"))!;

test("the drift workflow is scheduled and manual, may write issues, and runs a job per environment with that environment's secrets", () => {
  assert.ok(Array.isArray(workflow.on.schedule) && workflow.on.schedule[0].cron);
  assert.ok("workflow_dispatch" in workflow.on);
  assert.deepEqual(workflow.permissions, { contents: "read", issues: "write" });
  // The GitHub environment the deploy's plan job reads with: its secrets, every one exported to the run.
  assert.equal(drift.environment, "${{ matrix.environment }}-plan");
  assert.deepEqual(drift.strategy?.matrix, { environment: "${{ fromJSON(needs.environments.outputs.names) }}" });
  assert.equal(drift.strategy?.["fail-fast"], false);
  // Terraform itself (not the wrapper, which would change its output and exit codes) for the plans.
  assert.deepEqual(steps.find((s) => s.uses?.startsWith("hashicorp/setup-terraform@"))?.with, {
    terraform_version: "1.11.4",
    terraform_wrapper: false,
  });
  assert.deepEqual(driftStep.env, { SECRETS: "${{ toJSON(secrets) }}", ENVIRONMENT: "${{ matrix.environment }}" });
  assert.match(driftStep.run!, /^\. \.github\/scripts\/export-secrets\.sh$/m);
  const script = steps.find((s) => s.uses?.startsWith("actions/github-script@"))?.with?.script as string;
  // One issue per environment: created, updated, closed when clean; its body is the tool's own per-environment report.
  for (const call of [
    "issues.create",
    "issues.update",
    'state: "closed"',
    "drift-report/drift-${result.environment}.md",
  ])
    assert.ok(script.includes(call), call);
  // Any status but clean (0) and drift (2) fails the job: 1 could not be checked, 70 a bug.
  assert.equal(steps.at(-1)?.if, "steps.drift.outputs.status != '0' && steps.drift.outputs.status != '2'");
});

test("the environment list is every environments/*.yaml but common.yaml, or the ones the dispatch names", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "drift-workflow-list-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const list = (environments: string) => {
    const output = join(dir, "github-output");
    writeFileSync(output, "");
    const result = runStep(listStep, {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, GITHUB_OUTPUT: output, ENVIRONMENTS: environments },
    });
    assert.equal(result.status, 0, result.stderr.toString());
    return JSON.parse(readFileSync(output, "utf8").replace(/^names=/, "")) as string[];
  };
  assert.deepEqual(list(""), environmentNames(join(REPO_ROOT, "environments")));
  assert.deepEqual(list("staging dev"), ["staging", "dev"]);
});

test("drift (2) and clean (0) runs go on to the issue; an error without a report stops; status is passed on", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "drift-workflow-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A stand-in npm: records its arguments and a secret it was given, exits with the given status, writing a report unless told not to.
  mkdirSync(join(dir, "bin"));
  writeFileSync(
    join(dir, "bin", "npm"),
    '#!/bin/sh\necho "$@ $TF_VAR_secret_key" > npm-args\nif [ "$FAKE_WRITES_REPORT" = 1 ]; then mkdir -p drift-report && echo "{}" > drift-report/drift-report.json; fi\nexit "$FAKE_DRIFT_STATUS"\n',
  );
  chmodSync(join(dir, "bin", "npm"), 0o755);
  mkdirSync(join(dir, ".github", "scripts"), { recursive: true });
  copyFileSync(
    join(REPO_ROOT, ".github", "scripts", "export-secrets.sh"),
    join(dir, ".github", "scripts", "export-secrets.sh"),
  );
  for (const [status, writes, step] of [
    [0, 1, 0],
    [2, 1, 0],
    [1, 1, 0],
    [1, 0, 1],
  ]) {
    rmSync(join(dir, "drift-report"), { recursive: true, force: true });
    const output = join(dir, "github-output");
    writeFileSync(output, "");
    const result = runStep(driftStep, {
      cwd: dir,
      env: {
        PATH: `${join(dir, "bin")}:${process.env.PATH}`,
        FAKE_DRIFT_STATUS: String(status),
        FAKE_WRITES_REPORT: String(writes),
        GITHUB_OUTPUT: output,
        ENVIRONMENT: "staging",
        SECRETS: JSON.stringify({ TF_VAR_SECRET_KEY: "value" }),
      },
    });
    assert.equal(result.status, step, `drift exit ${status}, report written: ${writes}`);
    assert.equal(readFileSync(output, "utf8"), `status=${status}\n`);
    assert.equal(
      readFileSync(join(dir, "npm-args"), "utf8"),
      "run --silent drift -- staging --out-dir drift-report value\n",
    );
  }
});
