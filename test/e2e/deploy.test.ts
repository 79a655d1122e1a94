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
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { environmentNames, environmentsDir, loadEnvironments } from "../../stacks/config/load-environments";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { startDeployWorld, type DeployWorld } from "../support/deploy-world";
import type { Emulator } from "../support/emulator";
import type { TestPostgres } from "../support/postgres";
import { outputOf, type ProjectCopy } from "../support/project";

const environments = loadEnvironments({ only: environmentNames(environmentsDir()) });

let world: DeployWorld;
let postgres: TestPostgres;
let emulator: Emulator;
let project: ProjectCopy;

before(async () => {
  world = await startDeployWorld(environments);
  ({ postgres, emulator, project } = world);
});

after(async () => {
  await world?.stop();
});

interface App {
  app_status?: { state?: string; message?: string };
  active_deployment?: { deployment_id?: string; source_code_path?: string };
}

const readApp = (config: EnvironmentConfig) => emulator.api<App>("GET", `/api/2.0/apps/${config.app.name}`);
const deployments = async (config: EnvironmentConfig) =>
  (await emulator.api<{ app_deployments?: { deployment_id: string }[] }>("GET", `/api/2.0/apps/${config.app.name}/deployments`)).app_deployments ?? [];

function deploy(env: string): void {
  const result = project.cdktf(["deploy", env, "--auto-approve", "--skip-provider-lock"]);
  assert.equal(result.status, 0, outputOf(result));
}

/** The addresses and actions of what a plan of `env` would change (synthesizing the copy first). */
function plannedChanges(env: string, mode: string[] = []): string[] {
  const synth = project.cdktf(["synth", env]);
  assert.equal(synth.status, 0, outputOf(synth));
  const init = project.terraform(env, ["init", "-input=false"]);
  assert.equal(init.status, 0, outputOf(init));
  const plan = project.terraform(env, ["plan", "-input=false", "-lock=false", "-out=e2e.tfplan", ...mode]);
  assert.equal(plan.status, 0, outputOf(plan));
  const show = project.terraform(env, ["show", "-json", "e2e.tfplan"]);
  assert.equal(show.status, 0, outputOf(show));
  const json = JSON.parse(show.stdout) as { resource_changes?: { address: string; change: { actions: string[] } }[]; resource_drift?: { address: string }[] };
  const changes = (json.resource_changes ?? []).filter((c) => !c.change.actions.every((a) => a === "no-op" || a === "read"));
  const drift = (json.resource_drift ?? []).map((d) => `drift ${d.address}`);
  return [...changes.map((c) => `${c.change.actions.join("+")} ${c.address}`), ...drift].sort();
}

for (const config of environments) {
  const env = config.name;

  test(`${env}: the first deploy creates everything, migrates, grants and leaves the app RUNNING its deployment`, async () => {
    deploy(env);
    const app = await readApp(config);
    assert.equal(app.app_status?.state, "RUNNING", JSON.stringify(app));
    assert.equal((await deployments(config)).length, 1);
    assert.equal(app.active_deployment?.deployment_id, (await deployments(config))[0].deployment_id);
    const applied = await postgres.query("SELECT count(*)::int AS n FROM post_apply.applied_migrations", [], config.database.name);
    assert.ok(applied.rows[0].n > 0);
    for (const role of config.database.readOnlyRoles) {
      const { rows } = await postgres.query("SELECT has_schema_privilege($1, $2, 'USAGE') AS usage", [role, config.database.schema], config.database.name);
      assert.deepEqual(rows, [{ usage: true }], `read-only role ${role}`);
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

  test(`${env}: an edited app-src file uploads that file and redeploys the app once`, async () => {
    const before = await deployments(config);
    project.edit("app-src/src/log.ts", (text) => `${text}// edited by the e2e tier for ${env}\n`);
    assert.deepEqual(plannedChanges(env), [`${REPLACE} ${address(env, "terraform_data", "release")}`, `update ${address(env, "databricks_workspace_file")}["src/log.ts"]`].sort());
    deploy(env);
    const now = await deployments(config);
    assert.equal(now.length, before.length + 1);
    assert.equal((await readApp(config)).active_deployment?.deployment_id, now[0].deployment_id);
  });

  test(`${env}: a new migration is uploaded, applied by the post-apply step and released with the code`, async () => {
    const table = `e2e_${env.replace(/-/g, "_")}`;
    const number = String(readdirSync(join(project.dir, "app-src", "migrations")).filter((f) => f.endsWith(".sql")).length + 1).padStart(4, "0");
    const file = `migrations/${number}_${table}.sql`;
    project.edit(`app-src/${file}`, () => `CREATE TABLE ${table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);\n`);
    assert.deepEqual(
      plannedChanges(env),
      [`${REPLACE} ${address(env, "terraform_data", "post-apply")}`, `${REPLACE} ${address(env, "terraform_data", "release")}`, `create ${address(env, "databricks_workspace_file")}["${file}"]`].sort(),
    );
    deploy(env);
    const { rows } = await postgres.query("SELECT name FROM post_apply.applied_migrations ORDER BY name DESC LIMIT 1", [], config.database.name);
    assert.deepEqual(rows, [{ name: file.slice("migrations/".length) }]);
  });

  test(`${env}: deleting cdktf.out and synthesizing again loses no state: the plan is still a no-op`, () => {
    rmSync(join(project.dir, "cdktf.out"), { recursive: true, force: true });
    assert.deepEqual(plannedChanges(env), []);
  });

  if (config.production) {
    test(`${env}: destroy is refused for the instance and the catalog (prevent_destroy), and they stay`, async () => {
      const result = project.cdktf(["destroy", env, "--auto-approve", "--skip-provider-lock"]);
      assert.notEqual(result.status, 0, outputOf(result));
      assert.match(`${result.stdout}${result.stderr}`, /prevent_destroy/, outputOf(result));
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
        `/api/2.0/workspace/get-status?path=${encodeURIComponent(config.app.sourcePath ?? `/Shared/apps/${config.app.name}`)}`,
      ]) {
        await assert.rejects(emulator.api("GET", path), / -> 404: /, `${path} is still there`);
      }
      const scopes = await emulator.api<{ scopes?: { name: string }[] }>("GET", "/api/2.0/secrets/scopes/list");
      assert.ok(!(scopes.scopes ?? []).some((s) => s.name === config.secrets?.scope), JSON.stringify(scopes));
    });
  }
}

/** How Terraform shows a replacement in a plan's actions. */
const REPLACE = "delete+create";

/** The address of the (first) resource of `type` in the synthesized stack, optionally whose name starts with `prefix`. */
function address(env: string, type: string, prefix = ""): string {
  const stack = JSON.parse(readFileSync(join(project.dir, "cdktf.out", "stacks", env, "cdk.tf.json"), "utf8")) as { resource: Record<string, Record<string, unknown>> };
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
