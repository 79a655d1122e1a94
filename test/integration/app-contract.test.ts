/**
 * What app-src/ and the stack must agree on:
 * - every `valueFrom` in app.yaml is a resource key the synthesized stack binds to the app, in every environment;
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
import { onlyResource, synthStack } from "../support/synth";
import { APP_MIGRATIONS, APP_SRC } from "./app-fixture";

const appYaml = readFileSync(join(APP_SRC, "app.yaml"), "utf8");
const environments = loadEnvironments();

/** The resource keys the synthesized stack of `config` binds to its app: what app.yaml's valueFrom may name. */
function boundResourceKeys(config: EnvironmentConfig): string[] {
  const app = onlyResource(synthStack(config).json, "databricks_app");
  return (app.resources as { name: string }[]).map((r) => r.name).sort();
}

test("every app.yaml env entry is a name with a value or a valueFrom the app is bound under in every environment", () => {
  const entries = parse(appYaml).env as { name?: unknown; value?: unknown; valueFrom?: unknown }[];
  for (const [i, entry] of entries.entries()) {
    assert.ok(typeof entry.name === "string" && entry.name, `env[${i}]: expected a name`);
    assert.notEqual(
      entry.value === undefined,
      entry.valueFrom === undefined,
      `env[${i}] (${entry.name}): expected value or valueFrom`,
    );
  }
  const valueFroms = entries.filter((e) => e.valueFrom !== undefined).map((e) => String(e.valueFrom));
  assert.ok(valueFroms.length >= 2, "app.yaml reads the secret and the serving endpoint through valueFrom");
  for (const config of environments) {
    const bound = boundResourceKeys(config);
    const unbound = valueFroms.filter((key) => !bound.includes(key));
    assert.deepEqual(unbound, [], `${config.file}: valueFrom not bound to the app (bound there: ${bound.join(", ")})`);
  }
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
