/**
 * The PR review workflow: plan mode when the repository's secrets are there, offline mode otherwise (forks),
 * and that a review with changes (exit 2) does not fail the job.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { readWorkflow, runStep } from "../support/workflow";

const workflow = readWorkflow("review.yml");
const job = workflow.jobs.review;
const steps = job.steps;
const reviewStep = steps.find((s) => s.run?.includes("npm run review"))!;
const plansStep = steps.find((s) => s.name === "Plans")!;

test("the review workflow runs on pull requests with read access to contents and write access to pull requests", () => {
  assert.ok("pull_request" in workflow.on);
  assert.deepEqual(workflow.permissions, { contents: "read", "pull-requests": "write" });
  assert.equal(steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.with?.["fetch-depth"], 0);
  assert.equal(steps.find((s) => s.uses?.startsWith("actions/setup-node@"))?.with?.["node-version"], 24);
  assert.ok(steps.some((s) => s.run === "npm ci"));
  assert.equal(reviewStep.env?.BASE_REF, "${{ github.base_ref }}");
  const comment = steps.find((s) => s.uses?.startsWith("actions/github-script@"))?.with?.script as string;
  assert.match(comment, /updateComment/);
  assert.match(comment, /createComment/);
});

test("plan mode only when the repository's secrets are available: Terraform and the plans are skipped without them", () => {
  assert.equal(job.env?.PLAN_MODE, "${{ secrets.DATABRICKS_HOST != '' }}");
  for (const step of [plansStep, steps.find((s) => s.uses?.startsWith("hashicorp/setup-terraform@"))!])
    assert.equal(step.if, "env.PLAN_MODE == 'true'");
  // Every repository secret exported to Terraform, as the deploy does.
  assert.deepEqual(plansStep.env, { SECRETS: "${{ toJSON(secrets) }}" });
  assert.match(plansStep.run!, /^\. \.github\/scripts\/export-secrets\.sh$/m);
  // The review itself never gets a credential: the plans are all it reads.
  assert.deepEqual(Object.keys(reviewStep.env ?? {}), ["BASE_REF"]);
});

test("the plans step saves one plan per synthesized environment, read-only, as plans/<env>.json", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "review-workflow-plans-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "bin"));
  // Stand-ins: npm "synthesizes" two stacks; terraform logs its arguments and shows a plan as JSON naming its directory.
  writeFileSync(join(dir, "bin", "npm"), "#!/bin/sh\nmkdir -p cdktf.out/stacks/dev cdktf.out/stacks/prod\n");
  mkdirSync(join(dir, ".github", "scripts"), { recursive: true });
  copyFileSync(
    join(REPO_ROOT, ".github", "scripts", "export-secrets.sh"),
    join(dir, ".github", "scripts", "export-secrets.sh"),
  );
  writeFileSync(
    join(dir, "bin", "terraform"),
    '#!/bin/sh\necho "$* $TF_VAR_secret_key" >> terraform.log\nif [ "$2" = show ]; then echo "{\\"shown\\": \\"$1 $4\\"}"; fi\n',
  );
  for (const tool of ["npm", "terraform"]) chmodSync(join(dir, "bin", tool), 0o755);
  const result = runStep(plansStep, {
    cwd: dir,
    env: { PATH: `${join(dir, "bin")}:${process.env.PATH}`, SECRETS: JSON.stringify({ TF_VAR_SECRET_KEY: "value" }) },
  });
  assert.equal(result.status, 0, result.stderr.toString());
  assert.deepEqual(JSON.parse(readFileSync(join(dir, "plans", "prod.json"), "utf8")), {
    shown: "-chdir=cdktf.out/stacks/prod/ prod.tfplan",
  });
  const log = readFileSync(join(dir, "terraform.log"), "utf8").trim().split("\n");
  assert.deepEqual(
    log.filter((line) => line.includes("stacks/dev/")),
    [
      "-chdir=cdktf.out/stacks/dev/ init -input=false -no-color value",
      "-chdir=cdktf.out/stacks/dev/ plan -input=false -lock=false -no-color -out=dev.tfplan value",
      "-chdir=cdktf.out/stacks/dev/ show -json dev.tfplan value",
    ],
  );
});

test("the review step reviews the plans in plan mode and the base ref offline; it passes on exit 0 and 2 and fails on 1", (t) => {
  const bin = mkdtempSync(join(tmpdir(), "review-workflow-"));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(join(bin, "npm"), '#!/bin/sh\necho "$*" > "$ARGS_FILE"\nexit "$FAKE_REVIEW_STATUS"\n');
  chmodSync(join(bin, "npm"), 0o755);
  const args = join(bin, "args");
  for (const [mode, expected] of [
    ["true", "run review -- --plan plans --out review.md"],
    ["false", "run review -- --base origin/main --out review.md"],
  ]) {
    for (const [review, job] of [
      [0, 0],
      [2, 0],
      [1, 1],
    ]) {
      const result = runStep(reviewStep, {
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          FAKE_REVIEW_STATUS: String(review),
          BASE_REF: "main",
          PLAN_MODE: mode,
          ARGS_FILE: args,
        },
      });
      assert.equal(result.status, job, `plan mode ${mode}, review exit ${review}`);
      assert.equal(readFileSync(args, "utf8").trim(), expected);
    }
  }
});
