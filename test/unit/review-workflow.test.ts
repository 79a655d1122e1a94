/** The PR review workflow: what it runs, and that a review with changes (exit 2) does not fail the job. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readWorkflow, runStep } from "../support/workflow";

const workflow = readWorkflow("review.yml");
const steps = workflow.jobs.review.steps;
const reviewStep = steps.find((s) => s.run?.includes("npm run review"));

test("the review workflow runs on pull requests with read access to contents and write access to pull requests", () => {
  assert.ok("pull_request" in workflow.on);
  assert.deepEqual(workflow.permissions, { contents: "read", "pull-requests": "write" });
  assert.equal(steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.with?.["fetch-depth"], 0);
  assert.equal(steps.find((s) => s.uses?.startsWith("actions/setup-node@"))?.with?.["node-version"], 24);
  assert.ok(steps.some((s) => s.run === "npm ci"));
  assert.match(reviewStep?.run ?? "", /npm run review -- --base "origin\/\$BASE_REF" --out review\.md/);
  assert.equal(reviewStep?.env?.BASE_REF, "${{ github.base_ref }}");
  const comment = steps.find((s) => s.uses?.startsWith("actions/github-script@"))?.with?.script as string;
  assert.match(comment, /updateComment/);
  assert.match(comment, /createComment/);
});

test("the review step passes on exit 0 and 2 (changes are information) and fails on 1", (t) => {
  const bin = mkdtempSync(join(tmpdir(), "review-workflow-"));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(join(bin, "npm"), '#!/bin/sh\nexit "$FAKE_REVIEW_STATUS"\n');
  chmodSync(join(bin, "npm"), 0o755);
  for (const [review, job] of [[0, 0], [2, 0], [1, 1]]) {
    const result = runStep(reviewStep!, { env: { PATH: `${bin}:${process.env.PATH}`, FAKE_REVIEW_STATUS: String(review), BASE_REF: "main" } });
    assert.equal(result.status, job, `review exit ${review}`);
  }
});
