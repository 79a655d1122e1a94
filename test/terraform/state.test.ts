/**
 * Tier "terraform": the real Terraform CLI reads the backend blocks we synthesize. Every backend kind gets
 * past Terraform's configuration decoding (offline, it then fails only for want of credentials or network);
 * and local state lands outside the build output, where a re-synth and a second clone find it again.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { App, TerraformStack } from "../../stacks/cdktf";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { environmentSchema } from "../../stacks/config/schema";
import { addStateBackend } from "../../stacks/state/state-backend";
import { bootstrappedTerraform } from "../../tools/lib/local/toolchain";
import { terraform } from "../support/terraform";
import { git } from "../support/git";

function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `terraform init` of a configuration holding only `backend`, with no credentials and every connection refused. */
function initBackendOffline(t: TestContext, backend: object): string {
  const dir = tempDir(t, "backend-");
  const home = join(dir, "home");
  mkdirSync(home);
  writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ terraform: { backend } }));
  const result = spawnSync(bootstrappedTerraform(), ["init", "-input=false", "-no-color"], {
    cwd: dir,
    encoding: "utf8",
    // Nothing from this machine: no cloud credentials or CLI logins in HOME, no metadata service, a dead proxy.
    env: {
      PATH: `${dirname(bootstrappedTerraform())}:/usr/bin:/bin`,
      HOME: home,
      HTTPS_PROXY: "http://127.0.0.1:9",
      HTTP_PROXY: "http://127.0.0.1:9",
      AWS_EC2_METADATA_DISABLED: "true",
      TF_IN_AUTOMATION: "1",
      CHECKPOINT_DISABLE: "1",
    },
  });
  return `${result.stdout}\n${result.stderr}`;
}

/** The backend block addStateBackend writes for `config` (as YAML gives it). */
function backendBlock(config: object): object {
  const stack = new TerraformStack(new App({ outdir: join(tmpdir(), "unused") }), "prod");
  addStateBackend(stack, {
    environment: "prod",
    config: environmentSchema.shape.backend.parse(config),
  });
  return (stack.toTerraform() as { terraform: { backend: object } }).terraform.backend;
}

const CONFIGURATION_ERROR =
  /No argument or block type is named|Extraneous JSON object property|Unsupported argument|Missing required argument|Invalid .* value/;

test("every remote backend kind we synthesize is accepted by Terraform's backend configuration", (t) => {
  const kinds: [object, RegExp][] = [
    [{ type: "s3", bucket: "tf-state", key: "k", region: "eu-west-1" }, /No valid credential sources found/],
    [
      { type: "s3", bucket: "tf-state", key: "k", region: "eu-west-1", dynamodbTable: "locks" },
      /No valid credential sources found/,
    ],
    [
      {
        type: "azurerm",
        resourceGroupName: "rg",
        storageAccountName: "notestfstate",
        containerName: "tfstate",
        key: "k",
      },
      /unable to build authorizer/,
    ],
    [{ type: "gcs", bucket: "tf-state", prefix: "p" }, /could not find default credentials/],
    [{ type: "remote", organization: "acme", workspace: "notes-prod" }, /Failed to request discovery document/],
  ];
  for (const [config, reached] of kinds) {
    const output = initBackendOffline(t, backendBlock(config));
    assert.doesNotMatch(output, CONFIGURATION_ERROR, `${JSON.stringify(config)}:\n${output}`);
    assert.match(output, reached, `${JSON.stringify(config)} did not get as far as using its settings:\n${output}`);
  }
  // The check can fail: a misspelt setting is a configuration error.
  const misspelt = initBackendOffline(t, { s3: { bucket: "b", key: "k", region: "eu-west-1", use_lock_file: true } });
  assert.match(misspelt, /No argument or block type is named "use_lock_file"/);
});

/** A clone of this repository's HEAD with its node_modules, as a teammate's second checkout would be. */
function clone(t: TestContext): string {
  const dir = join(tempDir(t, "clone-"), "repo");
  git(tmpdir(), "clone", "--quiet", REPO_ROOT, dir);
  symlinkSync(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/** `npm run synth -- dev` in `repo` (into its own cdktf.out), then `terraform init`; returns the stack directory. */
function synthAndInit(repo: string, env: NodeJS.ProcessEnv = {}): string {
  const { CDKTF_OUTDIR: _, STACK_STATE_DIR: __, STACK_TEST_STATE_DIR: ___, ...inherited } = process.env;
  const result = spawnSync(process.execPath, ["--import", "tsx", "main.ts", "dev"], {
    cwd: repo,
    env: { ...inherited, ...env },
    encoding: "utf8",
  });
  assert.equal(result.status, 0, result.stderr);
  const stackDir = join(repo, "cdktf.out", "stacks", "dev");
  terraform(stackDir, ["init", "-input=false"]);
  return stackDir;
}

const lineage = (stackDir: string) =>
  (JSON.parse(terraform(stackDir, ["state", "pull"]).stdout || "{}") as { lineage?: string }).lineage;

test("local state is written to terraform-state/, survives rm -rf cdktf.out, and a second clone reaches it with STACK_STATE_DIR", (t) => {
  const first = clone(t);
  const stackDir = synthAndInit(first);
  const state = {
    version: 4,
    terraform_version: "1.5.0",
    serial: 1,
    lineage: "9f3c6a1e-state-test",
    outputs: {},
    resources: [],
  };
  writeFileSync(join(first, "pushed.tfstate"), JSON.stringify(state));
  terraform(stackDir, ["state", "push", join(first, "pushed.tfstate")]);
  const stateFile = join(first, "terraform-state", "dev.tfstate");
  assert.equal(JSON.parse(readFileSync(stateFile, "utf8")).lineage, state.lineage);

  rmSync(join(first, "cdktf.out"), { recursive: true });
  assert.equal(lineage(synthAndInit(first)), state.lineage, "re-synthesized: the state is gone");

  const second = clone(t);
  assert.equal(
    lineage(synthAndInit(second, { STACK_STATE_DIR: join(first, "terraform-state") })),
    state.lineage,
    "second clone: another state",
  );
  assert.equal(existsSync(join(second, "terraform-state")), false, "the second clone made a state of its own");
});
