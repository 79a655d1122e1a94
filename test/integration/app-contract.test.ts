/**
 * What app-src/ and the stack must agree on:
 * - every `valueFrom` in app.yaml is a resource key the stack binds to the app, in every environment;
 * - the schema the migrations and queries use is every environment's `database.schema`;
 * - migration files follow the runner's rules; dependencies are pinned, buildable on the Apps runtime and
 *   the same driver the root tests run the app with.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { loadEnvironments } from "../../stacks/config/load-environments";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { APP_SCHEMA, MIGRATION_FILE, MIGRATIONS_TABLE, shippedMigrations } from "../../app-src/src/migrations";
import { readMigrationFiles } from "../../tools/lib/migration-folder";
import { HISTORY_TABLE } from "../../tools/lib/lakebase/migration-history";
import { APP_MIGRATIONS, APP_SRC } from "./app-fixture";

/** Every resource key the stack binds to the app in `env` (what app.yaml's valueFrom may name). */
function boundResourceKeys(env: EnvironmentConfig): Set<string> {
  return new Set([
    env.app.databaseResourceName,
    ...env.app.secrets.map((s) => s.resourceName),
    ...env.servingEndpoints.map((e) => e.resourceName),
    ...env.app.sqlWarehouses.map((w) => w.resourceName),
    ...env.app.jobs.map((j) => j.resourceName),
  ]);
}

/** Problems with an app.yaml against the environments; empty when every valueFrom is bound everywhere. */
function appYamlProblems(text: string, environments: readonly EnvironmentConfig[]): string[] {
  const doc = parse(text) as { command?: unknown; env?: unknown } | null;
  const problems: string[] = [];
  if (!Array.isArray(doc?.command) || !doc.command.length || !doc.command.every((c) => typeof c === "string")) {
    problems.push("command: expected a non-empty list of strings (the runtime runs it without a shell)");
  }
  const entries = doc?.env ?? [];
  if (!Array.isArray(entries)) return [...problems, "env: expected a list"];
  entries.forEach((entry: { name?: unknown; value?: unknown; valueFrom?: unknown }, i) => {
    const where = `env[${i}]${typeof entry?.name === "string" ? ` (${entry.name})` : ""}`;
    if (typeof entry?.name !== "string" || !entry.name) problems.push(`${where}: expected a name`);
    if ((entry?.value === undefined) === (entry?.valueFrom === undefined))
      problems.push(`${where}: expected exactly one of value or valueFrom`);
    if (entry?.valueFrom === undefined) return;
    const key = String(entry.valueFrom);
    const unbound = environments.filter((env) => !boundResourceKeys(env).has(key));
    if (unbound.length) {
      problems.push(
        `${where}: valueFrom "${key}" is not a resource bound to the app in ${unbound.map((e) => e.name).join(", ")} ` +
          `(bound there: ${[...boundResourceKeys(unbound[0])].sort().join(", ")})`,
      );
    }
  });
  return problems;
}

const appYaml = readFileSync(join(APP_SRC, "app.yaml"), "utf8");
const environments = loadEnvironments();

test("every valueFrom in app-src/app.yaml is bound to the app in every environment", () => {
  assert.ok(environments.length >= 3, "dev, staging and prod are loaded");
  const valueFroms = (parse(appYaml).env as { valueFrom?: string }[]).filter((e) => e.valueFrom !== undefined);
  assert.ok(valueFroms.length >= 2, "app.yaml reads the secret and the serving endpoint through valueFrom");
  assert.deepEqual(appYamlProblems(appYaml, environments), []);
});

test("a valueFrom naming a key no environment binds is reported with the environments and what they bind", () => {
  const dangling = `${appYaml}\n  - name: WAREHOUSE_ID\n    valueFrom: sql-warehouse\n`;
  assert.deepEqual(appYamlProblems(dangling, environments), [
    `env[2] (WAREHOUSE_ID): valueFrom "sql-warehouse" is not a resource bound to the app in ${environments.map((e) => e.name).join(", ")} ` +
      `(bound there: database, llm, session-signing-key)`,
  ]);
});

test("a valueFrom bound in some environments but not all is reported for the ones missing it", () => {
  const withoutLlmInProd = environments.map((env) => (env.name === "prod" ? { ...env, servingEndpoints: [] } : env));
  assert.deepEqual(appYamlProblems(appYaml, withoutLlmInProd), [
    `env[1] (LLM_SERVING_ENDPOINT): valueFrom "llm" is not a resource bound to the app in prod (bound there: database, session-signing-key)`,
  ]);
});

test("malformed app.yaml entries are reported", () => {
  const bad = `command: node dist/main.js\nenv:\n  - name: A\n  - name: B\n    value: x\n    valueFrom: llm\n`;
  assert.deepEqual(appYamlProblems(bad, environments), [
    "command: expected a non-empty list of strings (the runtime runs it without a shell)",
    "env[0] (A): expected exactly one of value or valueFrom",
    "env[1] (B): expected exactly one of value or valueFrom",
  ]);
});

test("every environment's database.schema is the schema the app's migrations and queries use", () => {
  for (const env of environments) assert.equal(env.database.schema, APP_SCHEMA, `${env.name}: database.schema`);
});

test("/ready reads the table the post-apply runner records applied migrations in, and expects the files it applies", () => {
  assert.equal(`${MIGRATIONS_TABLE.schema}.${MIGRATIONS_TABLE.table}`, HISTORY_TABLE);
  assert.deepEqual(
    shippedMigrations(APP_MIGRATIONS).map((m) => m.file),
    readMigrationFiles(APP_MIGRATIONS).map((f) => f.name),
  );
});

test("migrations are NNNN_description.sql, consecutive from 0001, forward-only, without transaction control, schema-qualified", () => {
  const files = readdirSync(APP_MIGRATIONS).sort();
  assert.ok(files.length > 0);
  files.forEach((file, i) => {
    assert.match(file, MIGRATION_FILE);
    assert.equal(file.slice(0, 4), String(i + 1).padStart(4, "0"), `${file}: expected version ${i + 1}`);
    const sql = readFileSync(join(APP_MIGRATIONS, file), "utf8").replace(/--[^\n]*/g, "");
    assert.doesNotMatch(
      sql,
      /\b(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|SAVEPOINT)\b/i,
      `${file}: transaction control`,
    );
    for (const [, kind, name] of sql.matchAll(
      /\bCREATE\s+(?:UNIQUE\s+)?(TABLE|INDEX|SEQUENCE|VIEW|TYPE|FUNCTION)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\S+)/gi,
    )) {
      if (kind.toUpperCase() === "INDEX") continue; // an index lives in its table's schema
      assert.ok(name.startsWith(`${APP_SCHEMA}.`), `${file}: ${kind} ${name} is not in schema ${APP_SCHEMA}`);
    }
    for (const [, table] of sql.matchAll(/\bON\s+(\S+)\s*\(/gi))
      assert.ok(table.startsWith(`${APP_SCHEMA}.`), `${file}: index on ${table}`);
  });
});

test("the app's dependencies are pinned, locked, installable for the build, and the driver the tests use", () => {
  const pkg = JSON.parse(readFileSync(join(APP_SRC, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(join(APP_SRC, "package-lock.json"), "utf8"));
  const root = JSON.parse(readFileSync(join(APP_SRC, "..", "package.json"), "utf8"));
  // The Apps runtime skips devDependencies when NODE_ENV=production, and `npm run build` needs tsc.
  assert.equal(pkg.devDependencies, undefined);
  for (const [name, version] of Object.entries<string>(pkg.dependencies))
    assert.match(version, /^\d+\.\d+\.\d+$/, `${name}@${version} is not pinned`);
  assert.deepEqual(
    lock.packages[""].dependencies,
    pkg.dependencies,
    "package-lock.json is out of date (npm install --package-lock-only)",
  );
  // The root tests import the app's source and resolve its runtime dependency from the root install.
  assert.equal(root.dependencies.pg, pkg.dependencies.pg);
  assert.equal(pkg.scripts.build, "tsc -p tsconfig.json");
  assert.deepEqual(parse(appYaml).command, ["node", "dist/main.js"]);
});
