/**
 * The drift report's rendering, exit codes and masking, and the command line's own errors (no workspace
 * needed: they happen before any environment is checked). The checks themselves are tested end to end in
 * test/e2e/drift.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { REPO_ROOT } from "../../stacks/repo-paths";
import type { EnvironmentResult } from "../../tools/drift/check-environment";
import { type DriftReport, exitCode, renderJson, renderMarkdown } from "../../tools/drift/report";
import { SHIPPED_ENVIRONMENTS, UNSHIPPED_ENVIRONMENT } from "../support/environments";

const drifted: EnvironmentResult = {
  environment: "dev",
  findings: [
    {
      check: "instance",
      class: "out-of-band",
      object: "a | b",
      expected: "7",
      found: "3",
      severity: "medium",
      remediation: "fix\nit",
    },
  ],
  notChecked: [],
};
const clean: EnvironmentResult = { environment: "staging", findings: [], notChecked: [] };
const failed: EnvironmentResult = {
  environment: "prod",
  findings: [],
  notChecked: [],
  error: "instance: could not read it",
};

function report(...environments: EnvironmentResult[]): DriftReport {
  return { commit: "0".repeat(40), generatedAt: "2026-01-01T00:00:00.000Z", environments };
}

test("exit code: 0 clean, 2 drift, 1 when any environment could not be checked", () => {
  assert.equal(exitCode(report(clean)), 0);
  assert.equal(exitCode(report(clean, drifted)), 2);
  assert.equal(exitCode(report(drifted, failed)), 1);
});

test("the Markdown report has one section per environment, one table row per finding, and escapes table syntax", () => {
  const markdown = renderMarkdown(report(drifted, clean, failed));
  assert.match(markdown, /Commit compared: `0{40}`/);
  assert.match(markdown, /- Checked: Terraform \(a refreshing plan: out-of-band changes, and this commit's changes/);
  assert.match(markdown, /## dev: drift \(1 finding\)\n/);
  assert.ok(markdown.includes("| medium | out-of-band | instance | a \\| b | 7 | 3 | fix it |"), markdown);
  assert.match(markdown, /## staging: clean\n/);
  assert.match(markdown, /## prod: not checked\n\nCould not be checked: instance: could not read it/);
});

test("the JSON report is the report itself", () => {
  const whole = report(drifted, failed);
  assert.deepEqual(JSON.parse(renderJson(whole)), whole);
});

function drift(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, ["--import", "tsx", "tools/drift/main.ts", ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { PATH: process.env.PATH, ...env },
  });
  return { status: result.status, stderr: result.stderr };
}

test("a credential in a message is masked by the tools' shared masker, also when it comes back encoded", () => {
  const env = {
    DATABRICKS_TOKEN: "dapi-canary-drift-5e0c",
    DATABRICKS_CLIENT_SECRET: "oauth canary/drift+7a",
    TF_VAR_secret_api_key: "tf-canary-drift-91",
  };
  const echoed = [
    env.DATABRICKS_TOKEN,
    Buffer.from(env.DATABRICKS_CLIENT_SECRET).toString("base64url"),
    encodeURIComponent(env.DATABRICKS_CLIENT_SECRET),
    Buffer.from(env.TF_VAR_secret_api_key).toString("hex"),
  ];
  // The unknown environment's name is quoted in the error, as a server's echo would be.
  for (const name of echoed) {
    const run = drift([name], env);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /unknown environment "\(sensitive\)"; known environments/, name);
    assert.ok(!run.stderr.includes(name), `${name} leaked:\n${run.stderr}`);
  }
});

test("a bad --format or an unknown environment is one clear line and exit 1", () => {
  const format = drift(["--format", "html"]);
  assert.equal(format.status, 1);
  assert.match(format.stderr, /^drift: --format: expected md or json, found "html" \(--help for usage\)\n$/);
  const unknown = drift([UNSHIPPED_ENVIRONMENT]);
  assert.equal(unknown.status, 1);
  assert.ok(
    unknown.stderr.includes(
      `unknown environment "${UNSHIPPED_ENVIRONMENT}"; known environments: ${SHIPPED_ENVIRONMENTS.join(", ")}`,
    ),
    unknown.stderr,
  );
});
