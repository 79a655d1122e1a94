/**
 * Configuration is data, never code, proved with the real Terraform and Databricks provider: a stack whose
 * every free-text field (and some app-src file names) holds template syntax is applied against the workspace
 * emulator, post-apply step included; the literal strings arrive at the emulator, and a second plan is a no-op.
 * Before the fix, `${file("/etc/passwd")}` was read by terraform apply, `${var.secret_…}` put the secret in a
 * group name, and `100%{` failed the plan.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { App } from "../../stacks/cdktf";
import { AppStack } from "../../stacks/app-stack";
import { loadEnvironments } from "../../stacks/config/load-environments";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { errorAnnotations } from "../../stacks/guardrails/nag-pack";
import { identityTypeOf } from "../../tools/lib/workspace";
import { startEmulator } from "../../tools/lib/local/emulator";
import { FIXTURE_SOURCE_DIR, TEMPLATE_PAYLOADS } from "../support/synth";
import { providerUnavailable, terraform } from "../support/terraform";

const ENV = "e2e";
/** All four payloads in one value, so that each free-text field carries every one of them. */
const ALL = TEMPLATE_PAYLOADS.join(" ");
/** Workspace and file paths take no whitespace. */
const PATH_SEGMENT = TEMPLATE_PAYLOADS.join("-").replaceAll(" ", "_");
/** Role names take no '"'. */
const ROLES = TEMPLATE_PAYLOADS.map((p) => p.replaceAll('"', ""));
const SOURCE_PATH = `/Shared/apps/notes-${ENV}/${PATH_SEGMENT}`;
const TAGS = Object.fromEntries(
  TEMPLATE_PAYLOADS.map((p, i) => [p, TEMPLATE_PAYLOADS[(i + 1) % TEMPLATE_PAYLOADS.length]]),
);
const ENDPOINT = "e2e-llm";

/** The workspace (emulator) and database (PostgreSQL) the stack is applied to: the only use of the e2e harness. */
interface Workspace {
  readonly url: string;
  readonly token: string;
  /** What the post-apply step needs to reach the test PostgreSQL (as runToolAgainst sets it). */
  readonly postApplyEnv: NodeJS.ProcessEnv;
  api<T>(path: string): Promise<T>;
  sql<R extends Record<string, unknown>>(text: string, params?: unknown[], database?: string): Promise<R[]>;
  stop(): Promise<void>;
}

async function startWorkspace(): Promise<Workspace> {
  // The group and the read-only roles the YAML names are identities this workspace knows.
  const emulator = await startEmulator({
    servingEndpoints: [ENDPOINT],
    identities: [`GROUP:${ALL}`, ...ROLES.map((r) => `${identityTypeOf(r)}:${r}`)],
  });
  return {
    url: emulator.url,
    token: emulator.workspaceToken,
    postApplyEnv: {
      POST_APPLY_INSECURE_NO_TLS: emulator.env.POST_APPLY_INSECURE_NO_TLS,
      POST_APPLY_PG_PORT: emulator.env.POST_APPLY_PG_PORT,
    },
    api: (path) => emulator.api("GET", path),
    sql: async (text, params, database) =>
      (await (await emulator.instancePostgres(`notes-${ENV}`)).query(text, params, database)).rows as never,
    stop: () => emulator.stop(),
  };
}

// The e2e tier also runs where the bootstrap could not get the provider; this applies with it.
describe("a stack with template syntax in every free-text field, applied", { skip: providerUnavailable() }, () => {
  let workspace: Workspace;
  let work: string;
  let config: EnvironmentConfig;
  let stackDir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    workspace = await startWorkspace();
    work = mkdtempSync(join(tmpdir(), "literal-e2e-"));

    // The environment, through the real loader.
    const environments = join(work, "environments");
    mkdirSync(environments);
    writeFileSync(
      join(environments, `${ENV}.yaml`),
      JSON.stringify({
        workspace: { host: workspace.url, profile: ALL },
        app: { name: `notes-${ENV}`, description: ALL, sourcePath: SOURCE_PATH, env: { NOTE: ALL } },
        lakebase: { instanceName: `notes-${ENV}`, tags: TAGS },
        database: { name: "notes", catalog: `notes_${ENV}`, readOnlyRoles: ROLES },
        secrets: { scope: `notes-${ENV}`, keys: ["session-signing-key"] },
        servingEndpoints: [{ resourceName: "llm", name: ENDPOINT, permission: "CAN_MANAGE", reason: ALL }],
        permissions: { app: [{ group: ALL, level: "CAN_MANAGE" }], instance: [{ group: ALL, level: "CAN_USE" }] },
        postApply: { instanceReadyTimeoutSeconds: 60, lockTimeoutSeconds: 30 },
      }),
    );
    [config] = loadEnvironments({ dir: environments });

    // The app's source, with files named after the payloads (a '/' in one makes directories).
    const sourceDir = join(work, "app-src");
    cpSync(FIXTURE_SOURCE_DIR, sourceDir, { recursive: true });
    for (const name of TEMPLATE_PAYLOADS) {
      mkdirSync(dirname(join(sourceDir, "payloads", name)), { recursive: true });
      writeFileSync(join(sourceDir, "payloads", name), name);
    }

    const app = new App({ outdir: join(work, "cdktf.out") });
    new AppStack(app, ENV, { config, sourceDir, state: { localStateDir: join(work, "state") } });
    app.synth();
    assert.deepEqual(errorAnnotations(app), []);
    stackDir = join(work, "cdktf.out", "stacks", ENV);

    // The profile the YAML names, in a home of its own.
    const home = join(work, "home");
    mkdirSync(home);
    writeFileSync(join(home, ".databrickscfg"), `[${ALL}]\nhost = ${workspace.url}\ntoken = ${workspace.token}\n`);
    // No DATABRICKS_TOKEN: the provider and the post-apply step can authenticate only through that profile.
    env = { HOME: home, TF_VAR_secret_session_signing_key: "x", ...workspace.postApplyEnv };

    terraform(stackDir, ["init", "-input=false", "-no-color"], { env });
    terraform(stackDir, ["apply", "-auto-approve", "-input=false", "-no-color"], { env });
  });

  after(async () => {
    await workspace?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the app's description arrives as written", async () => {
    const app = await workspace.api<{ description: string }>(`/api/2.0/apps/notes-${ENV}`);
    assert.equal(app.description, ALL);
  });

  test("the instance's tags arrive as written, keys and values", async () => {
    const instance = await workspace.api<{ custom_tags: { key: string; value: string }[] }>(
      `/api/2.0/database/instances/notes-${ENV}`,
    );
    assert.deepEqual(Object.fromEntries(instance.custom_tags.map((t) => [t.key, t.value])), TAGS);
  });

  test("group names in the permissions arrive as written", async () => {
    for (const object of [`apps/notes-${ENV}`, `database-instances/notes-${ENV}`]) {
      const acl = await workspace.api<{ access_control_list: { group_name?: string }[] }>(
        `/api/2.0/permissions/${object}`,
      );
      assert.ok(
        acl.access_control_list.some((a) => a.group_name === ALL),
        `${object}: ${JSON.stringify(acl)}`,
      );
    }
  });

  test("the source directory and the files named after the payloads arrive at their literal paths", async () => {
    for (const name of TEMPLATE_PAYLOADS) {
      const path = `${SOURCE_PATH}/payloads/${name}`;
      const status = await workspace.api<{ path: string; object_type: string }>(
        `/api/2.0/workspace/get-status?path=${encodeURIComponent(path)}`,
      );
      assert.deepEqual([status.path, status.object_type], [path, "FILE"]);
    }
  });

  test("the app's settings arrive in the deployed app.yaml as written", async () => {
    const exported = await workspace.api<{ content: string }>(
      `/api/2.0/workspace/export?format=RAW&path=${encodeURIComponent(`${SOURCE_PATH}/app.yaml`)}`,
    );
    assert.deepEqual(parse(Buffer.from(exported.content, "base64").toString("utf8")).env.at(-1), {
      name: "NOTE",
      value: ALL,
    });
  });

  test("the post-apply step received the literal profile and roles: it created and granted each role", async () => {
    const rows = await workspace.sql<{ role: string; usage: boolean }>(
      "SELECT role, has_schema_privilege(role, 'app', 'USAGE') AS usage FROM unnest($1::text[]) AS role ORDER BY role",
      [ROLES],
      config.database.name,
    );
    assert.deepEqual(
      rows,
      [...ROLES].sort().map((role) => ({ role, usage: true })),
    );
  });

  test("a second plan is a no-op", () => {
    const plan = terraform(stackDir, ["plan", "-detailed-exitcode", "-input=false", "-no-color"], {
      env,
      allowFailure: true,
    });
    assert.equal(plan.status, 0, `${plan.stdout}\n${plan.stderr}`);
  });
});
