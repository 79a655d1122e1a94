/** Where each environment's state lives: every backend kind as synthesized, and local state outside the build output. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import type { z } from "zod";
import { Manifest, Testing, TerraformStack } from "../../stacks/cdktf";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { type BackendConfig, environmentSchema } from "../../stacks/config/schema";
import {
  addStateBackend,
  DEFAULT_STATE_DIR,
  localStateReason,
  type StateBackendProps,
  stateLocation,
} from "../../stacks/state/state-backend";
import type { Attributes } from "../support/synth";

const OUTDIR = join(REPO_ROOT, "cdktf.out");

/** The backend block a stack named `env` synthesizes to (in this repository's cdktf.out), and the backend construct. */
function synthBackend(config: object, props: Partial<StateBackendProps> = {}, env = "test") {
  const app = Testing.app({ outdir: OUTDIR });
  const stack = new TerraformStack(app, env);
  const backend = addStateBackend(stack, {
    environment: env,
    config: environmentSchema.shape.backend.parse(config),
    ...props,
  });
  // toTerraform() rather than Testing.synth, which drops the "//" comments this module writes.
  const json = stack.toTerraform() as { terraform: { backend: Record<string, Attributes> } };
  return { block: json.terraform.backend, backend };
}

/** Where Terraform, running in the stack's directory, puts a local state file. */
const statePath = (block: Record<string, Attributes>, env = "test") =>
  resolve(OUTDIR, Manifest.stacksFolder, env, block.local.path);

/** Every kind the schema accepts, as written in YAML, with the block it must synthesize to. */
const KINDS: Record<BackendConfig["type"], { yaml: object; block: Record<string, Attributes> }[]> = {
  local: [{ yaml: { type: "local" }, block: { local: { path: "../../../terraform-state/test.tfstate" } } }],
  s3: [
    {
      yaml: { type: "s3", bucket: "tf-state", key: "notes/test.tfstate", region: "eu-west-1" },
      block: { s3: { bucket: "tf-state", key: "notes/test.tfstate", region: "eu-west-1", use_lockfile: true } },
    },
    {
      yaml: {
        type: "s3",
        bucket: "tf-state",
        key: "notes/test.tfstate",
        region: "eu-west-1",
        dynamodbTable: "tf-locks",
      },
      block: { s3: { bucket: "tf-state", key: "notes/test.tfstate", region: "eu-west-1", dynamodb_table: "tf-locks" } },
    },
  ],
  azurerm: [
    {
      yaml: {
        type: "azurerm",
        resourceGroupName: "rg",
        storageAccountName: "notestfstate",
        containerName: "tfstate",
        key: "notes.tfstate",
      },
      block: {
        azurerm: {
          resource_group_name: "rg",
          storage_account_name: "notestfstate",
          container_name: "tfstate",
          key: "notes.tfstate",
        },
      },
    },
  ],
  gcs: [
    {
      yaml: { type: "gcs", bucket: "tf-state", prefix: "notes/test" },
      block: { gcs: { bucket: "tf-state", prefix: "notes/test" } },
    },
  ],
  remote: [
    {
      yaml: { type: "remote", organization: "acme", workspace: "notes-test" },
      block: { remote: { hostname: "app.terraform.io", organization: "acme", workspaces: { name: "notes-test" } } },
    },
  ],
};

/** The backend kinds the schema accepts. */
function schemaKinds(): string[] {
  const union = environmentSchema.shape.backend.unwrap();
  return union.options.flatMap((o) => [...(o.shape.type as z.ZodLiteral<string>).values]).sort();
}

test("every backend kind the schema accepts synthesizes the block Terraform reads", () => {
  assert.deepEqual(Object.keys(KINDS).sort(), schemaKinds());
  for (const [kind, cases] of Object.entries(KINDS)) {
    for (const { yaml, block } of cases)
      assert.deepEqual(synthBackend(yaml).block, block, `${kind}: ${JSON.stringify(yaml)}`);
  }
});

test("the README has an example of every backend kind, each valid and synthesizing that kind", () => {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const section = readme.slice(
    readme.indexOf("\n## Terraform state"),
    readme.indexOf("\n## ", readme.indexOf("\n## Terraform state") + 1),
  );
  const examples = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map(
    (m) => (parse(m[1]) as { backend: object }).backend,
  );
  const kinds = examples.map((example) => Object.keys(synthBackend(example).block)[0]);
  assert.deepEqual([...new Set(kinds)].sort(), schemaKinds());
  // Both ways s3 locks are shown.
  assert.ok(
    examples.some((e) => "dynamodbTable" in e) &&
      examples.some((e) => (e as { type: string }).type === "s3" && !("dynamodbTable" in e)),
  );
});

test("local state is <repo>/terraform-state/<env>.tfstate, outside the build output, by a path relative to the stack directory", () => {
  for (const env of ["dev", "eu-prod"]) {
    const { block } = synthBackend({ type: "local" }, {}, env);
    assert.equal(statePath(block, env), join(DEFAULT_STATE_DIR, `${env}.tfstate`));
    assert.equal(DEFAULT_STATE_DIR, join(REPO_ROOT, "terraform-state"));
    assert.ok(!statePath(block, env).startsWith(`${OUTDIR}/`), "state inside the build output");
    // Relative, so the synthesized JSON holds no machine-specific path and resolves in every clone.
    assert.ok(!block.local.path.startsWith("/"), block.local.path);
  }
});

test("STACK_STATE_DIR moves local state (a second clone shares the first clone's); remote backends stay as configured", () => {
  const location = stateLocation({ STACK_STATE_DIR: "/srv/clone-1/terraform-state" });
  assert.equal(
    statePath(synthBackend({ type: "local" }, { location }).block),
    "/srv/clone-1/terraform-state/test.tfstate",
  );
  assert.deepEqual(synthBackend(KINDS.gcs[0].yaml, { location }).block, KINDS.gcs[0].block);
  // Relative to the working directory, as users type it.
  assert.equal(stateLocation({ STACK_STATE_DIR: "state" }).localStateDir, resolve("state"));
  assert.deepEqual(stateLocation({}), { localStateDir: undefined, testStateDir: undefined });
});

test("STACK_TEST_STATE_DIR replaces every backend with marked local state", () => {
  const location = stateLocation({ STACK_TEST_STATE_DIR: "/tmp/e2e-state", STACK_STATE_DIR: "/srv/ignored" });
  const s3 = KINDS.s3[0].yaml;
  const prod = synthBackend(s3, { location }, "prod");
  assert.equal(statePath(prod.block, "prod"), "/tmp/e2e-state/prod.tfstate");
  assert.equal(
    prod.block.local["//"],
    "TEST ONLY: local state from STACK_TEST_STATE_DIR in place of the configured s3 backend",
  );

  const dev = synthBackend({ type: "local" }, { location }, "dev");
  assert.equal(statePath(dev.block, "dev"), "/tmp/e2e-state/dev.tfstate");
  assert.equal(dev.block.local["//"], "TEST ONLY: local state from STACK_TEST_STATE_DIR");
});

test("the reason local state is accepted: backend.reason, or the test-only override of a configured backend", () => {
  const backend = (config: object) => environmentSchema.shape.backend.parse(config);
  const location = stateLocation({ STACK_TEST_STATE_DIR: "/tmp/e2e-state" });
  const reason = "a lab workspace; state is backed up nightly";
  assert.equal(localStateReason(backend({ type: "local", reason })), reason);
  assert.equal(localStateReason(backend({ type: "local", reason }), location), reason);
  assert.equal(localStateReason(backend({ type: "local" }), location), undefined);
  assert.equal(localStateReason(backend({ type: "local" })), undefined);
  assert.equal(
    localStateReason(backend(KINDS.s3[0].yaml), location),
    "test only: STACK_TEST_STATE_DIR replaces the s3 backend with local state",
  );
  assert.equal(localStateReason(backend(KINDS.s3[0].yaml)), undefined);
});
