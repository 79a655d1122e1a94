/**
 * `npm run drift` end to end against the workspace emulator, whose instances are real PostgreSQL servers:
 * two environments are deployed as Terraform would (instance, catalog, app through the emulator's REST API)
 * and migrated by the post-apply runner; then drift is injected out of band, one kind at a time, and each
 * must be named. Every run must leave the databases exactly as it found them.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import YAML from "yaml";
import { loadEnvironments } from "../../stacks/config/load-environments";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { MIGRATIONS_DIR, REPO_ROOT } from "../../stacks/repo-paths";
import { migrationLockKey } from "../../tools/post-apply/migration-lock";
import type { DriftReport } from "../../tools/drift/report";
import { deployThroughEmulator, runToolAgainst, startEmulator, type Emulator } from "../support/emulator";
import { freePort } from "../support/free-port";
import type { PostgresAccess } from "../support/postgres";

let emulator: Emulator;
let home: string;
/** The repository's environments, with prod unreachable. */
let environmentsDir: string;
let dev: EnvironmentConfig;
let staging: EnvironmentConfig;
const appRoles: Record<string, string> = {};
/** Each environment's instance's PostgreSQL, as its superuser. */
const postgres: Record<string, PostgresAccess> = {};

before(async () => {
  emulator = await startEmulator();
  home = mkdtempSync(join(tmpdir(), "drift-e2e-"));
  environmentsDir = join(home, "environments");
  cpSync(join(REPO_ROOT, "environments"), environmentsDir, { recursive: true });
  const unreachable = await freePort();
  editYaml("prod", (doc) => doc.setIn(["workspace", "host"], `http://127.0.0.1:${unreachable}`));
  [dev, staging] = loadEnvironments({ dir: environmentsDir, only: ["dev", "staging"] });
  for (const config of [dev, staging]) {
    appRoles[config.name] = await deployThroughEmulator(emulator, config);
    postgres[config.name] = await emulator.instancePostgres(config.lakebase.instanceName);
    const migrated = runTool("tools/post-apply/main.ts", [config.name]);
    assert.equal(migrated.status, 0, migrated.output);
  }
});

after(async () => {
  await emulator?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

function editYaml(name: string, edit: (doc: YAML.Document) => void): void {
  const path = join(environmentsDir, `${name}.yaml`);
  const doc = YAML.parseDocument(readFileSync(path, "utf8"));
  edit(doc);
  writeFileSync(path, doc.toString());
}

/** A tool run against the emulator with this test's environments directory and an empty home (no ~/.databrickscfg). */
function runTool(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return runToolAgainst(emulator, script, args, { HOME: home, STACK_ENVIRONMENTS_DIR: environmentsDir, ...env });
}

/**
 * `npm run drift -- <args> --format json`, its report parsed; checks that the databases of `running` (the
 * environments whose instance runs) are unchanged by it.
 */
async function drift(args: string[], env: NodeJS.ProcessEnv = {}, running = [dev, staging]): Promise<{ status: number | null; report: DriftReport; output: string }> {
  const before = await snapshots(running);
  const { status, stdout, output } = await whileLocked(running, () => runTool("tools/drift/main.ts", [...args, "--format", "json"], env));
  assert.deepEqual(await snapshots(running), before, "the drift run changed the database");
  return { status, report: JSON.parse(stdout) as DriftReport, output };
}

/**
 * Runs `work` while a session holds each environment's migration advisory lock: a drift run that took
 * it would hang until killed instead of finishing.
 */
async function whileLocked<T>(environments: EnvironmentConfig[], work: () => T): Promise<T> {
  const clients = await Promise.all(environments.map(async (config) => {
    const client = new pg.Client(postgres[config.name].clientConfig({ database: config.database.name }));
    await client.connect();
    await client.query("SELECT pg_advisory_lock($1, $2)", [...migrationLockKey(config.database.schema)]);
    return client;
  }));
  try {
    return work();
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** Owners and ACLs of the app and history schemas and everything in them, default privileges, and the history rows. */
async function snapshots(environments: EnvironmentConfig[]): Promise<unknown[]> {
  return Promise.all(environments.map(async (config) => (await postgres[config.name].query(`
    SELECT format('%s owner=%s acl=%s', c.oid::regclass, pg_get_userbyid(c.relowner), c.relacl) AS line
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ($1, 'post_apply')
    UNION ALL SELECT format('schema %s owner=%s acl=%s', nspname, pg_get_userbyid(nspowner), nspacl) FROM pg_namespace
    UNION ALL SELECT format('default acl %s %s %s', pg_get_userbyid(defaclrole), defaclobjtype, defaclacl) FROM pg_default_acl
    UNION ALL SELECT format('applied %s %s %s %s', schema_name, name, checksum, applied_at) FROM post_apply.applied_migrations
    ORDER BY 1`, [config.database.schema], config.database.name)).rows));
}

function findingsOf(report: DriftReport, environment: string) {
  const result = report.environments.find((e) => e.environment === environment);
  assert.ok(result, `${environment} is not in the report`);
  return result;
}

/** A copy of the app's migrations, changed by `edit`, for POST_APPLY_MIGRATIONS_DIR. */
function migrationsCopy(edit: (dir: string) => void): string {
  const dir = mkdtempSync(join(home, "migrations-"));
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  edit(dir);
  return dir;
}

test("freshly deployed environments are clean: exit 0, no findings, and the report says Terraform was not checked", async () => {
  const { status, report, output } = await drift(["dev", "staging"]);
  assert.equal(status, 0, output);
  assert.deepEqual(report.environments.map((e) => [e.environment, e.findings, e.error]), [["dev", [], undefined], ["staging", [], undefined]]);
  assert.match(report.commit, /^[0-9a-f]{40}$/);
  assert.equal(report.terraform.checked, false);
  const markdown = runTool("tools/drift/main.ts", ["dev"]);
  assert.equal(markdown.status, 0, markdown.output);
  assert.match(markdown.stdout, /## dev: clean/);
  assert.match(markdown.stdout, /Terraform-level drift was not checked/);
});

test("an instance field changed out of band (PATCH with update_mask) is named, medium: exit 2", async () => {
  await emulator.api("PATCH", `/api/2.0/database/instances/${dev.lakebase.instanceName}?update_mask=retention_window_in_days`, { retention_window_in_days: 3 });
  const { status, report, output } = await drift(["dev"]);
  assert.equal(status, 2, output);
  assert.deepEqual(
    findingsOf(report, "dev").findings.map(({ check, object, expected, found, severity }) => ({ check, object, expected, found, severity })),
    [{ check: "instance", object: `Lakebase instance "${dev.lakebase.instanceName}" retention_window_in_days (lakebase.retentionWindowInDays)`, expected: "7", found: "3", severity: "medium" }],
  );
});

test("a grant revoked from the app role is named, high: exit 2", async () => {
  await postgres.dev.query(`REVOKE INSERT ON app.notes FROM ${pg.escapeIdentifier(appRoles.dev)}`, [], dev.database.name);
  const { status, report, output } = await drift(["dev"]);
  assert.equal(status, 2, output);
  const access = findingsOf(report, "dev").findings.filter((f) => f.check === "access");
  assert.equal(access.length, 1, output);
  assert.equal(access[0].severity, "high");
  assert.equal(access[0].object, `table app.notes (database "${dev.database.name}")`);
  assert.match(access[0].found, /lacks INSERT on table app\.notes/);
  assert.match(access[0].remediation, /npm run migrate -- dev/);
});

test("a new migration file not yet applied is named as pending, low: exit 2", async () => {
  const dir = migrationsCopy((d) => writeFileSync(join(d, "0002_add_tags.sql"), "ALTER TABLE notes ADD COLUMN tags text[];\n"));
  const { status, report, output } = await drift(["dev"], { POST_APPLY_MIGRATIONS_DIR: dir });
  assert.equal(status, 2, output);
  const pending = findingsOf(report, "dev").findings.filter((f) => f.check === "migrations");
  assert.deepEqual(pending.map(({ object, found, severity }) => ({ object, found, severity })), [{ object: "migration 0002_add_tags.sql", found: "pending (not applied)", severity: "low" }]);
});

test("an applied migration file edited since is named, high: exit 2", async () => {
  const dir = migrationsCopy((d) => appendFileSync(join(d, "0001_create_notes.sql"), "\n-- edited after it was applied\n"));
  const { status, report, output } = await drift(["dev"], { POST_APPLY_MIGRATIONS_DIR: dir });
  assert.equal(status, 2, output);
  const edited = findingsOf(report, "dev").findings.filter((f) => f.check === "migrations");
  assert.equal(edited.length, 1, output);
  assert.equal(edited[0].object, "migration 0001_create_notes.sql");
  assert.equal(edited[0].severity, "high");
  assert.match(edited[0].found, /edited after it was applied/);
});

test("an object in the app schema not owned by the deployer is named, high: exit 2", async () => {
  await postgres.staging.query("CREATE TABLE app.scratch (id int)", [], staging.database.name);
  const { status, report, output } = await drift(["staging"]);
  await postgres.staging.query("DROP TABLE app.scratch", [], staging.database.name);
  assert.equal(status, 2, output);
  const owned = findingsOf(report, "staging").findings.filter((f) => f.check === "ownership");
  assert.deepEqual(owned.map(({ object, expected, found }) => ({ object, expected, found })), [{ object: "table app.scratch", expected: `owned by "${emulator.userName}"`, found: `owned by "${postgres.staging.superuser}"` }]);
});

test("two environments, one drifted and one clean, give one combined report with exit 2, also written to --out-dir", async () => {
  const outDir = join(home, "report");
  const { status, report, output } = await drift(["dev", "staging", "--out-dir", outDir]);
  assert.equal(status, 2, output);
  assert.deepEqual(findingsOf(report, "dev").findings.map((f) => f.check).sort(), ["access", "instance"]);
  assert.deepEqual(findingsOf(report, "staging").findings, []);
  assert.deepEqual(JSON.parse(readFileSync(join(outDir, "drift-report.json"), "utf8")).environments, report.environments);
  const markdown = readFileSync(join(outDir, "drift-report.md"), "utf8");
  assert.match(markdown, /## dev: drift \(2 findings\)/);
  assert.match(markdown, /## staging: clean/);
  // One file per environment, for the workflow's one-issue-per-environment.
  const devOnly = readFileSync(join(outDir, "drift-dev.md"), "utf8");
  assert.match(devOnly, /## dev: drift \(2 findings\)/);
  assert.doesNotMatch(devOnly, /## staging/);
  assert.match(readFileSync(join(outDir, "drift-staging.md"), "utf8"), /## staging: clean/);
});

test("an unreachable environment is an error (exit 1) and the other's findings are still reported", async () => {
  const { status, report, output } = await drift(["dev", "prod"]);
  assert.equal(status, 1, output);
  assert.equal(findingsOf(report, "dev").findings.length, 2, output);
  const prod = findingsOf(report, "prod");
  assert.match(prod.error ?? "", /^instance: could not read Lakebase instance "notes-prod"/);
  assert.doesNotMatch(prod.error ?? "", /\n/);
});

test("changed tags, a stopped instance and a deleted instance are named, and their databases are not probed: exit 2", async () => {
  await emulator.api("PATCH", `/api/2.0/database/instances/${staging.lakebase.instanceName}?update_mask=custom_tags,stopped`, { custom_tags: [{ key: "project", value: "notes" }], stopped: true });
  await emulator.api("DELETE", `/api/2.0/database/instances/${dev.lakebase.instanceName}`);
  // Neither instance runs any more: there is no database to compare or lock.
  const { status, report, output } = await drift(["dev", "staging"], {}, []);
  assert.equal(status, 2, output);
  const stagingResult = findingsOf(report, "staging");
  assert.deepEqual(stagingResult.findings.map(({ object, expected, found }) => ({ object, expected, found })), [
    { object: `Lakebase instance "${staging.lakebase.instanceName}" stopped (lakebase.stopped)`, expected: "false", found: "true" },
    { object: `Lakebase instance "${staging.lakebase.instanceName}" custom_tags (lakebase.tags)`, expected: "managed-by=databricks-app-stack, project=notes", found: "project=notes" },
  ]);
  assert.deepEqual(stagingResult.notChecked, [`database: instance "${staging.lakebase.instanceName}" is STOPPED, not AVAILABLE`]);
  const devResult = findingsOf(report, "dev");
  assert.deepEqual(devResult.findings.map(({ object, found, severity }) => ({ object, found, severity })), [{ object: `Lakebase instance "${dev.lakebase.instanceName}"`, found: "not found (HTTP 404)", severity: "high" }]);
  assert.deepEqual(devResult.notChecked, [`database: instance "${dev.lakebase.instanceName}" is missing, not AVAILABLE`]);
});
