/**
 * The product's promise, end to end: the real `cdktf` CLI with the real Databricks provider deploys every
 * environment in environments/ against the workspace emulator and a real PostgreSQL.
 *
 * For each environment: (1) the first deploy creates everything, migrates, grants and releases, and the app
 * is RUNNING its deployment; (2) an immediate diff and a refresh-only plan are no-ops; (3) a new migration,
 * an edited app-src file and an edited description each plan exactly what should change and deploy; (4)
 * deleting cdktf.out and synthesizing again loses no state; (5) a non-production environment destroys
 * cleanly, a production one refuses to destroy its instance and catalog.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { environmentNames, environmentsDir, loadEnvironments } from "../../stacks/config/load-environments";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { startDeployWorld, type DeployWorld } from "../../tools/lib/local/deploy-world";
import type { Emulator } from "../../tools/lib/local/emulator";
import { copyProject, outputOf, secretValues, type ProjectCopy } from "../../tools/lib/local/project";
import { providerUnavailable } from "../support/terraform";

const environments = loadEnvironments({ only: environmentNames(environmentsDir()) });

let world: DeployWorld;
let emulator: Emulator;
let project: ProjectCopy;
/** Every environment's state, prod's included: the test-only override of its remote backend. */
let stateDir: string;

// Where the bootstrap could not get the provider, CI still runs this tier; these tests then skip, saying why.
const skip = providerUnavailable();

before(async () => {
  if (skip) return;
  world = await startDeployWorld(environments);
  ({ emulator, project, stateDir } = world);
});

after(async () => {
  await world?.stop();
});

/** Runs SQL as the superuser of an environment's own Lakebase instance, in its app database. */
async function sql(config: EnvironmentConfig, text: string, params: unknown[] = []) {
  return (await emulator.instancePostgres(config.lakebase.instanceName)).query(text, params, config.database.name);
}

interface App {
  app_status?: { state?: string; message?: string };
  active_deployment?: { deployment_id?: string; source_code_path?: string };
}

const readApp = (config: EnvironmentConfig) => emulator.api<App>("GET", `/api/2.0/apps/${config.app.name}`);
const deployments = async (config: EnvironmentConfig) =>
  (
    await emulator.api<{ app_deployments?: { deployment_id: string }[] }>(
      "GET",
      `/api/2.0/apps/${config.app.name}/deployments`,
    )
  ).app_deployments ?? [];

/** `cdktf deploy <env>`; returns its readable output. */
function deploy(env: string): string {
  const result = project.cdktf(["deploy", env, "--auto-approve", "--skip-provider-lock"]);
  assert.equal(result.status, 0, outputOf(result));
  return outputOf(result, Infinity);
}

const sourcePath = (config: EnvironmentConfig) => config.app.sourcePath ?? `/Shared/apps/${config.app.name}`;

/** The addresses and actions of what a plan of `env` would change (synthesizing the copy first). */
function plannedChanges(env: string, mode: string[] = [], copy = project): string[] {
  const synth = copy.cdktf(["synth", env]);
  assert.equal(synth.status, 0, outputOf(synth));
  const init = copy.terraform(env, ["init", "-input=false", "-reconfigure"]);
  assert.equal(init.status, 0, outputOf(init));
  const plan = copy.terraform(env, ["plan", "-input=false", "-lock=false", "-out=e2e.tfplan", ...mode]);
  assert.equal(plan.status, 0, outputOf(plan));
  const show = copy.terraform(env, ["show", "-json", "e2e.tfplan"]);
  assert.equal(show.status, 0, outputOf(show));
  type Change = {
    address: string;
    type: string;
    change: { actions: string[]; before?: Record<string, unknown>; after?: Record<string, unknown> };
  };
  const json = JSON.parse(show.stdout) as { resource_changes?: Change[]; resource_drift?: Change[] };
  const changes = (json.resource_changes ?? []).filter(
    (c) => !c.change.actions.every((a) => a === "no-op" || a === "read"),
  );
  const drift = (json.resource_drift ?? []).flatMap((d) => {
    const changed = Object.keys({ ...d.change.before, ...d.change.after }).filter(
      (key) =>
        JSON.stringify(d.change.before?.[key]) !== JSON.stringify(d.change.after?.[key]) &&
        !(d.type === "databricks_app" && RELEASED_APP_ATTRIBUTES.has(key)),
    );
    return changed.length ? [`drift ${d.address} (${changed.join(", ")})`] : [];
  });
  return [...changes.map((c) => `${c.change.actions.join("+")} ${c.address}`), ...drift].sort();
}

for (const config of environments)
  describe(config.name, { skip }, () => {
    const env = config.name;

    test(`${env}: the first deploy creates everything, migrates, grants and leaves the app RUNNING its deployment`, async () => {
      deploy(env);
      const app = await readApp(config);
      assert.equal(app.app_status?.state, "RUNNING", JSON.stringify(app));
      assert.equal((await deployments(config)).length, 1);
      assert.equal(app.active_deployment?.deployment_id, (await deployments(config))[0].deployment_id);
      const applied = await sql(config, "SELECT count(*)::int AS n FROM post_apply.applied_migrations");
      assert.ok(applied.rows[0].n > 0);
      for (const role of config.database.readOnlyRoles) {
        const { rows } = await sql(
          config,
          "SELECT has_schema_privilege($1, $2, 'USAGE') AS usage, has_table_privilege($1, $2 || '.notes', 'SELECT') AS reads",
          [role, config.database.schema],
        );
        assert.deepEqual(rows, [{ usage: true, reads: true }], `read-only role ${role}`);
      }
    });

    test(`${env}: a second deploy changes nothing and creates no deployment; diff and a refresh-only plan are no-ops`, async () => {
      const before = await deployments(config);
      deploy(env);
      assert.deepEqual(await deployments(config), before);
      const diff = project.cdktf(["diff", env, "--skip-provider-lock"]);
      assert.equal(diff.status, 0, outputOf(diff));
      assert.match(diff.stdout, /No changes/, outputOf(diff));
      assert.deepEqual(plannedChanges(env), []);
      assert.deepEqual(plannedChanges(env, ["-refresh-only"]), []);
    });

    test(`${env}: an edited description updates the app in place, nothing else, and does not redeploy it`, async () => {
      const before = await deployments(config);
      editYaml(`environments/${env}.yaml`, ["app", "description"], "Team notes (edited by the e2e tier)");
      assert.deepEqual(plannedChanges(env), [`update ${address(env, "databricks_app")}`]);
      deploy(env);
      assert.deepEqual(await deployments(config), before);
    });

    test(`${env}: an edited app-src file is the one file uploaded, and the app is redeployed once`, async () => {
      const before = await deployments(config);
      const edit = `// edited by the e2e tier for ${env}\n`;
      project.edit("app-src/src/log.ts", (text) => `${text}${edit}`);
      assert.deepEqual(plannedChanges(env), [`${REPLACE} ${address(env, "terraform_data", "release")}`]);
      const output = deploy(env);
      assert.match(output, /source +1 of \d+ files uploaded, 0 deleted/);
      const now = await deployments(config);
      assert.equal(now.length, before.length + 1);
      assert.equal((await readApp(config)).active_deployment?.deployment_id, now[0].deployment_id);
      const uploaded = await emulator.api<{ content: string }>(
        "GET",
        `/api/2.0/workspace/export?format=RAW&path=${encodeURIComponent(`${sourcePath(config)}/src/log.ts`)}`,
      );
      assert.ok(Buffer.from(uploaded.content, "base64").toString("utf8").endsWith(edit));
    });

    test(`${env}: a new migration is uploaded, applied by the post-apply step and released with the code`, async () => {
      const table = `e2e_${env.replace(/-/g, "_")}`;
      const number = String(
        readdirSync(join(project.dir, "app-src", "migrations")).filter((f) => f.endsWith(".sql")).length + 1,
      ).padStart(4, "0");
      const file = `migrations/${number}_${table}.sql`;
      project.edit(
        `app-src/${file}`,
        () => `CREATE TABLE ${table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);\n`,
      );
      assert.deepEqual(plannedChanges(env), [
        `${REPLACE} ${address(env, "terraform_data", "post-apply")}`,
        `${REPLACE} ${address(env, "terraform_data", "release")}`,
      ]);
      deploy(env);
      const { rows } = await sql(config, "SELECT name FROM post_apply.applied_migrations ORDER BY name DESC LIMIT 1");
      assert.deepEqual(rows, [{ name: file.slice("migrations/".length) }]);
    });

    test(`${env}: a failing deployment fails the deploy with the platform's message; the next deploy retries it and succeeds`, async () => {
      const before = await deployments(config);
      const message = `Error: npm run build exited 2 (injected for ${env})`;
      await emulator.api("POST", `/_emulator/apps/${config.app.name}/fail-next-deployment`, { message });
      project.edit("app-src/src/log.ts", (text) => `${text}// a release that fails, for ${env}\n`);
      const failed = project.cdktf(["deploy", env, "--auto-approve", "--skip-provider-lock"]);
      assert.notEqual(failed.status, 0, outputOf(failed));
      assert.ok(outputOf(failed, Infinity).replace(/\s+/g, " ").includes(`FAILED: ${message}`), outputOf(failed));
      assert.equal(
        (await readApp(config)).active_deployment?.deployment_id,
        before[0].deployment_id,
        "the running deployment is kept",
      );
      // Migrations, grants and everything else stay applied: only the release is left to do again.
      assert.deepEqual(plannedChanges(env), [`${REPLACE} ${address(env, "terraform_data", "release")}`]);
      deploy(env);
      const now = await deployments(config);
      assert.equal(now.length, before.length + 2);
      assert.equal((await readApp(config)).active_deployment?.deployment_id, now[0].deployment_id);
    });

    test(`${env}: deleting cdktf.out and synthesizing again loses no state: the plan is still a no-op`, () => {
      rmSync(join(project.dir, "cdktf.out"), { recursive: true, force: true });
      assert.deepEqual(plannedChanges(env), []);
    });

    if (config.backend.type === "local") {
      test(`${env}: a second clone pointed at the same state directory (STACK_STATE_DIR, as the README says) plans no changes`, () => {
        const second = copyProject({ ...emulator.env, ...secretValues(environments), STACK_STATE_DIR: stateDir });
        try {
          cpSync(join(project.dir, "app-src"), join(second.dir, "app-src"), { recursive: true });
          cpSync(join(project.dir, "environments"), join(second.dir, "environments"), { recursive: true });
          assert.deepEqual(plannedChanges(env, [], second), []);
        } finally {
          second.remove();
        }
      });
    }

    if (config.production) {
      test(`${env}: destroy is refused for the instance and the catalog (prevent_destroy), and they stay`, async () => {
        const result = project.cdktf(["destroy", env, "--auto-approve", "--skip-provider-lock"]);
        assert.notEqual(result.status, 0, outputOf(result));
        // Terraform's own words for it (cdktf's progress output does not keep them).
        const plan = project.terraform(env, ["plan", "-destroy", "-input=false", "-lock=false", "-no-color"]);
        assert.equal(plan.status, 1, outputOf(plan));
        // Terraform stops at the first protected resource it meets, the catalog or the instance.
        const protectedResources = ["databricks_database_instance", "databricks_database_database_catalog"]
          .map((type) => address(env, type))
          .join("|");
        assert.match(
          plan.stderr.replace(/\s+/g, " "),
          new RegExp(`Instance cannot be destroyed .*(${protectedResources}) has lifecycle.prevent_destroy set`),
          outputOf(plan),
        );
        await emulator.api("GET", `/api/2.0/database/instances/${config.lakebase.instanceName}`);
        await emulator.api("GET", `/api/2.0/database/catalogs/${config.database.catalog}`);
      });
    } else {
      test(`${env}: destroy removes everything it created from the workspace`, async () => {
        const result = project.cdktf(["destroy", env, "--auto-approve", "--skip-provider-lock"]);
        assert.equal(result.status, 0, outputOf(result));
        for (const path of [
          `/api/2.0/apps/${config.app.name}`,
          `/api/2.0/database/instances/${config.lakebase.instanceName}`,
          `/api/2.0/database/catalogs/${config.database.catalog}`,
          `/api/2.0/workspace/get-status?path=${encodeURIComponent(sourcePath(config))}`,
        ]) {
          await assert.rejects(emulator.api("GET", path), / -> 404: /, `${path} is still there`);
        }
        const scopes = await emulator.api<{ scopes?: { name: string }[] }>("GET", "/api/2.0/secrets/scopes/list");
        assert.ok(!(scopes.scopes ?? []).some((s) => s.name === config.secrets?.scope), JSON.stringify(scopes));
      });
    }
  });

/**
 * What the release step changes on the app after Terraform has read it: the platform's record of the
 * deployment and the app's status. Terraform sees them "changed outside Terraform" on the next refresh; they
 * are the release's result, not drift (the drift tool checks the release itself).
 */
const RELEASED_APP_ATTRIBUTES = new Set([
  "active_deployment",
  "pending_deployment",
  "app_status",
  "compute_status",
  "default_source_code_path",
  "update_time",
  "updater",
]);

/** How Terraform shows a replacement in a plan's actions. */
const REPLACE = "delete+create";

/** The address of the (first) resource of `type` in the synthesized stack, optionally whose name starts with `prefix`. */
function address(env: string, type: string, prefix = ""): string {
  const stack = JSON.parse(readFileSync(join(project.dir, "cdktf.out", "stacks", env, "cdk.tf.json"), "utf8")) as {
    resource: Record<string, Record<string, unknown>>;
  };
  const name = Object.keys(stack.resource[type] ?? {}).find((n) => n.startsWith(prefix));
  assert.ok(name, `no ${type} ${prefix} in ${env}`);
  return `${type}.${name}`;
}

/** Sets one field of a YAML file of the copy, keeping the rest of the file as it is. */
function editYaml(file: string, path: string[], value: unknown): void {
  project.edit(file, (text) => {
    const doc = parseDocument(text);
    doc.setIn(path, value);
    return doc.toString();
  });
}
