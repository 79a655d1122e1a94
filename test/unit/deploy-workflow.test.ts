/**
 * The deploy workflow: on a push to main, every environment in order, each a plan job and an apply job in
 * GitHub environments, one deploy per environment at a time, the saved plan applied (never a second plan);
 * and its scripts run as GitHub runs them, with a stand-in terraform.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvironments } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { secretVariableName } from "../../stacks/config/secret-variable";
import { readWorkflow, runStep, type WorkflowJob, type WorkflowStep } from "../support/workflow";

const deploy = readWorkflow("deploy.yml");
const perEnvironment = readWorkflow("deploy-environment.yml");
const { plan, apply } = perEnvironment.jobs;
const environments = loadEnvironments();
const step = (job: WorkflowJob, name: string): WorkflowStep => {
  const found = job.steps.find((s) => s.name === name);
  assert.ok(found, `no step "${name}"`);
  return found;
};
const runs = (job: WorkflowJob) => job.steps.map((s) => s.run ?? "").join("\n");

test("on a push to main: the review, then each deployed environment after the previous one (production last)", () => {
  assert.deepEqual(Object.keys(deploy.on), ["push"]);
  assert.deepEqual(deploy.on.push, { branches: ["main"] });
  assert.deepEqual(deploy.permissions, { contents: "read" });

  // Which environments CI deploys is the adopter's choice (README): a new environments/*.yaml is deployed by
  // hand until deploy.yml gets its job. Every job deploys an environment that exists.
  const deploying = Object.entries(deploy.jobs).filter(([, job]) => job.uses);
  const known = new Set(environments.map((e) => e.name));
  assert.ok(deploying.length > 0, "deploy.yml deploys no environment");
  for (const [name] of deploying) assert.ok(known.has(name), `deploy.yml deploys ${name}, not in environments/`);
  // Follow `needs` from the review: one line, every environment once.
  const order: string[] = [];
  for (let previous = "review"; ; ) {
    const next = deploying.filter(
      ([, job]) => job.needs === previous || (Array.isArray(job.needs) && job.needs.includes(previous)),
    );
    if (!next.length) break;
    assert.equal(next.length, 1, `more than one job waits for ${previous}`);
    previous = next[0][0];
    order.push(previous);
  }
  assert.deepEqual([...order].sort(), deploying.map(([name]) => name).sort(), `one line from the review: ${order}`);
  const production = new Set(environments.filter((e) => e.production).map((e) => e.name));
  assert.ok(
    order.findIndex((n) => production.has(n)) >= order.filter((n) => !production.has(n)).length,
    "a production environment deploys before a non-production one",
  );
});

test("each environment: one deploy at a time (a newer one waits, never cancels), through the per-environment workflow", () => {
  const inputs = perEnvironment.on.workflow_call.inputs;
  assert.deepEqual(inputs, {
    environment: { description: inputs.environment.description, type: "string", required: true },
  });
  for (const [name, job] of Object.entries(deploy.jobs).filter(([, job]) => job.uses)) {
    assert.equal(job.uses, "./.github/workflows/deploy-environment.yml", name);
    assert.deepEqual(job.with, { environment: name }, name);
    assert.equal(job.secrets, "inherit", name);
    assert.deepEqual(job.concurrency, { group: `deploy-${name}`, "cancel-in-progress": false }, name);
  }
});

test("the plan runs in GitHub environment <env>-plan, the apply in <env> (where prod's required reviewers are), after it", () => {
  assert.equal(plan.environment, "${{ inputs.environment }}-plan");
  assert.equal(apply.environment, "${{ inputs.environment }}");
  assert.equal(apply.needs, "plan");
  assert.equal(apply.if, "needs.plan.outputs.changes == 'true'");
  assert.equal(plan.outputs?.changes, "${{ steps.plan.outputs.changes }}");
});

test("the apply job applies the saved plan from the stack directory it was made in, and never plans or synthesizes again", () => {
  assert.match(step(plan, "Plan").run!, /terraform -chdir="\$STACK_DIR" plan .*-out=tfplan/);
  assert.equal(perEnvironment.env?.STACK_DIR, "cdktf.out/stacks/${{ inputs.environment }}");
  const upload = plan.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
  const download = apply.steps.find((s) => s.uses?.startsWith("actions/download-artifact@"))!;
  assert.equal(upload.with?.name, "plan-${{ inputs.environment }}");
  assert.deepEqual(download.with, { name: upload.with?.name, path: "${{ env.STACK_DIR }}" });
  // The stack directory as planned, its dependency lock file included (hidden), the providers not.
  assert.equal(upload.with?.path, "${{ env.STACK_DIR }}\n!${{ env.STACK_DIR }}/.terraform\n");
  assert.equal(upload.with?.["include-hidden-files"], true);

  const applying = runs(apply);
  assert.match(applying, /terraform -chdir="\$STACK_DIR" init -input=false -lockfile=readonly\n/);
  assert.match(applying, /terraform -chdir="\$STACK_DIR" apply -input=false tfplan$/m);
  assert.doesNotMatch(applying, /terraform\b[^\n]* plan\b|npm run synth|cdktf|main\.ts/);
  // The post-apply step runs `node tools/build/run.cjs tools/post-apply/main.ts` from the checkout during apply.
  const names = apply.steps.map((s) => s.run ?? s.uses ?? "");
  assert.ok(names.findIndex((n) => n.startsWith("actions/checkout@")) < names.indexOf("npm ci"));
  assert.ok(names.indexOf("npm ci") < names.findIndex((n) => n.includes("apply -input=false tfplan")));
});

test("every workflow sets up a maintained Node LTS (22 or 24)", () => {
  for (const file of ["deploy.yml", "deploy-environment.yml", "review.yml", "drift.yml"]) {
    const setups = Object.values(readWorkflow(file).jobs).flatMap((job) =>
      (job.steps ?? []).filter((s) => s.uses?.startsWith("actions/setup-node@")),
    );
    assert.ok(setups.length > 0, file);
    for (const setup of setups)
      assert.ok(
        [22, 24].includes(setup.with?.["node-version"] as number),
        `${file}: node ${setup.with?.["node-version"]}`,
      );
  }
});

/** A directory with a stand-in `terraform` on PATH that logs its arguments and acts as told. */
function fakeTerraform(t: TestContext): { dir: string; bin: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), "deploy-workflow-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const log = join(dir, "terraform.log");
  writeFileSync(
    join(bin, "terraform"),
    `#!/bin/bash
echo "$*" >>"${log}"
dir="\${1#-chdir=}"
case "$2" in
  plan) echo "PLAN FOR $FAKE_ENV_VALUE" >"$dir/tfplan"; exit "\${FAKE_PLAN_STATUS:-0}" ;;
  show) echo '  ~ description = "a<b>&c" -> "</pre><script>x</script>"' ;;
  apply) [ "$(cat "$dir/tfplan")" = "$FAKE_EXPECTED_PLAN" ] || { echo "not the saved plan" >&2; exit 1; } ;;
esac
`,
  );
  chmodSync(join(bin, "terraform"), 0o755);
  mkdirSync(join(dir, "stack"));
  return { dir, bin, log };
}

function githubEnv(fake: { dir: string; bin: string }, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  for (const file of ["output", "summary"]) writeFileSync(join(fake.dir, file), "");
  return {
    PATH: `${fake.bin}:${process.env.PATH}`,
    ENVIRONMENT: "dev",
    STACK_DIR: join(fake.dir, "stack"),
    GITHUB_OUTPUT: join(fake.dir, "output"),
    GITHUB_STEP_SUMMARY: join(fake.dir, "summary"),
    ...extra,
  };
}

test("the plan step: exit 0 means no changes, 2 changes, 1 fails; the saved plan is in the run summary as text", (t) => {
  const fake = fakeTerraform(t);
  for (const [status, result, changes] of [
    [0, 0, "false"],
    [2, 0, "true"],
    [1, 1, undefined],
  ] as const) {
    const env = githubEnv(fake, {
      FAKE_PLAN_STATUS: String(status),
      SECRETS: JSON.stringify({ FAKE_ENV_VALUE: "dev" }),
    });
    const run = runStep(step(plan, "Plan"), { cwd: REPO_ROOT, env });
    assert.equal(run.status, result, `plan exit ${status}: ${run.stderr}`);
    assert.equal(
      readFileSync(env.GITHUB_OUTPUT!, "utf8"),
      changes ? `changes=${changes}\n` : "",
      `plan exit ${status}`,
    );
    if (changes) {
      const summary = readFileSync(env.GITHUB_STEP_SUMMARY!, "utf8");
      assert.match(summary, /^### Terraform plan: dev\n/);
      assert.ok(
        summary.includes('~ description = "a&lt;b&gt;&amp;c" -&gt; "&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;"'),
        summary,
      );
    }
  }
  // The environment's secrets reached terraform (the plan it wrote names one).
  assert.equal(readFileSync(join(fake.dir, "stack", "tfplan"), "utf8"), "PLAN FOR dev\n");
  assert.match(
    readFileSync(fake.log, "utf8"),
    /^-chdir=\S+ plan -input=false -lock-timeout=10m -detailed-exitcode -out=tfplan$/m,
  );
});

test("the saved plan travels encrypted, and the apply step applies exactly it, with the same key only", (t) => {
  const fake = fakeTerraform(t);
  const planFile = join(fake.dir, "stack", "tfplan");
  const saved = "PLAN with TF_VAR values 5e1b0c";
  writeFileSync(planFile, `${saved}\n`);
  const key = "a-plan-key-4f2a";
  const encrypt = runStep(step(plan, "Encrypt the plan"), {
    cwd: REPO_ROOT,
    env: githubEnv(fake, { PLAN_ENCRYPTION_KEY: key }),
  });
  assert.equal(encrypt.status, 0, encrypt.stderr.toString());
  assert.equal(existsSync(planFile), false, "the plain plan is left for the artifact");
  assert.ok(!readFileSync(`${planFile}.enc`).includes(saved), "not encrypted");

  const applyStep = step(apply, "Apply the saved plan");
  const applyWith = (secrets: Record<string, string>) =>
    runStep(applyStep, {
      cwd: REPO_ROOT,
      env: githubEnv(fake, { SECRETS: JSON.stringify(secrets), FAKE_EXPECTED_PLAN: saved }),
    });
  assert.notEqual(applyWith({ PLAN_ENCRYPTION_KEY: "another-key" }).status, 0, "decrypted with the wrong key");
  const missing = applyWith({});
  assert.notEqual(missing.status, 0);
  assert.match(
    missing.stdout.toString(),
    /::error::secret PLAN_ENCRYPTION_KEY is not set in the GitHub environment dev/,
  );
  const applied = applyWith({ PLAN_ENCRYPTION_KEY: key });
  assert.equal(applied.status, 0, applied.stderr.toString());
  const stack = join(fake.dir, "stack");
  assert.equal(
    readFileSync(fake.log, "utf8"),
    `-chdir=${stack} init -input=false -lockfile=readonly\n-chdir=${stack} apply -input=false tfplan\n`,
  );

  const noKey = runStep(step(plan, "Encrypt the plan"), {
    cwd: REPO_ROOT,
    env: githubEnv(fake, { PLAN_ENCRYPTION_KEY: "" }),
  });
  assert.match(
    noKey.stdout.toString(),
    /::error::secret PLAN_ENCRYPTION_KEY is not set in the GitHub environment dev-plan/,
  );
});

test("every secret of the GitHub environment reaches Terraform; TF_VAR_SECRET_<KEY> as Terraform's TF_VAR_secret_<key>", () => {
  const variables = [...new Set(environments.flatMap((e) => e.secrets?.keys ?? []).map(secretVariableName))];
  assert.ok(variables.length > 0);
  // GitHub secret names are upper case.
  const secrets: Record<string, string> = {
    github_token: "ghs_not-for-terraform",
    DATABRICKS_HOST: "https://example.cloud.databricks.com",
    GOOGLE_CREDENTIALS: '{\n  "type": "x"\n}\n',
  };
  for (const name of variables) secrets[`TF_VAR_${name.toUpperCase()}`] = `value of ${name}`;
  const result = spawnSync("bash", ["-c", ". .github/scripts/export-secrets.sh && env -0"], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, SECRETS: JSON.stringify(secrets) },
    encoding: "utf8",
  });
  assert.equal(result.status, 0, result.stderr);
  const exported = new Map(
    result.stdout
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  for (const name of variables) assert.equal(exported.get(`TF_VAR_${name}`), `value of ${name}`, name);
  assert.equal(exported.get("DATABRICKS_HOST"), secrets.DATABRICKS_HOST);
  assert.equal(exported.get("GOOGLE_CREDENTIALS"), secrets.GOOGLE_CREDENTIALS, "a multi-line value");
  assert.equal(exported.has("github_token") || exported.has("GITHUB_TOKEN"), false);
  assert.equal(exported.has("SECRETS"), false, "the JSON of all secrets stays in the shell");
  // The Terraform steps get them; nothing else does.
  for (const s of [step(plan, "Plan"), step(apply, "Apply the saved plan")]) {
    assert.equal(s.env?.SECRETS, "${{ toJSON(secrets) }}");
    assert.match(s.run!, /^\. \.github\/scripts\/export-secrets\.sh$/m);
  }
});

test("an environment with local state is refused before planning: a runner's disk does not outlive the job", (t) => {
  const fake = fakeTerraform(t);
  const refuse = step(plan, "Refuse local state");
  const withBackend = (backend: object) => {
    writeFileSync(join(fake.dir, "stack", "cdk.tf.json"), JSON.stringify({ terraform: { backend } }));
    return runStep(refuse, { cwd: REPO_ROOT, env: githubEnv(fake, {}) });
  };
  const local = withBackend({ local: { path: "../../../terraform-state/dev.tfstate" } });
  assert.equal(local.status, 1);
  assert.match(
    local.stdout.toString(),
    /^::error file=environments\/dev\.yaml::dev keeps local Terraform state, which this runner would lose/,
  );
  assert.equal(withBackend({ s3: { bucket: "b", key: "k", region: "eu-west-1", use_lockfile: true } }).status, 0);
});

test("the review is the run summary's first part: exit 0 or 2 writes it, 1 fails, a first push skips it", (t) => {
  const review = deploy.jobs.review.steps.find((s) => s.name === "Review")!;
  assert.equal(review.env?.BEFORE, "${{ github.event.before }}");
  assert.equal(deploy.jobs.review.steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.with?.["fetch-depth"], 0);
  const fake = fakeTerraform(t);
  writeFileSync(join(fake.bin, "npm"), '#!/bin/sh\necho "# review of $5" >review.md\nexit "$FAKE_REVIEW_STATUS"\n');
  chmodSync(join(fake.bin, "npm"), 0o755);
  // The run's checkout: a repository whose previous commit is BEFORE.
  const git = (...args: string[]) =>
    spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@test.invalid", ...args], {
      cwd: fake.dir,
      encoding: "utf8",
    }).stdout.trim();
  git("init", "--quiet");
  git("commit", "--quiet", "--allow-empty", "-m", "before");
  const before = git("rev-parse", "HEAD");
  for (const [status, result] of [
    [0, 0],
    [2, 0],
    [1, 1],
  ]) {
    const env = githubEnv(fake, { BEFORE: before, FAKE_REVIEW_STATUS: String(status) });
    const run = runStep(review, { cwd: fake.dir, env });
    assert.equal(run.status, result, `review exit ${status}`);
    assert.equal(
      readFileSync(env.GITHUB_STEP_SUMMARY!, "utf8"),
      result === 0 ? `# review of ${before}\n` : "",
      `review exit ${status}`,
    );
  }
  const first = githubEnv(fake, { BEFORE: "0000000000000000000000000000000000000000" });
  assert.equal(runStep(review, { cwd: fake.dir, env: first }).status, 0);
  assert.equal(readFileSync(first.GITHUB_STEP_SUMMARY!, "utf8"), "No previous commit to review against.\n");
});
