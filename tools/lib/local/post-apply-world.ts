/**
 * What the post-apply runner meets after `terraform apply`, locally: a real PostgreSQL set up as Lakebase
 * would be (the deployer's role logs in with the database credential; the app's service principal role and
 * an extra read-only role exist; both the deployer and the app may CONNECT and CREATE on the database), and
 * an in-process fake of the Databricks REST API. `run` starts the runner as Terraform does: a separate
 * process with POST_APPLY_* variables and credentials in its environment only. The integration tests and
 * `npm run bench:post-apply` run the runner in it.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { REPO_ROOT } from "../../../stacks/repo-paths";
import { type FakeDatabricks, type FakeDatabricksOptions, startFakeDatabricks } from "./fake-databricks";
import { startPostgres, type TestPostgres } from "./postgres";

export const DEPLOYER = "deployer@example.com";
export const APP_ROLE = "3f8a1c52-9d4e-4b7a-8e21-5c6d7f90a1b3";
export const READER_ROLE = "notes-analysts";
export const INSTANCE = "notes-test";
export const APP_NAME = "notes-test";
/** Canaries: neither may ever appear in the runner's output. */
export const WORKSPACE_TOKEN = "dapi-canary-workspace-token-7c1e";
export const DATABASE_TOKEN = "canary-database-credential-41b9";
export const APP_PASSWORD = "app-role-password";
export const READER_PASSWORD = "reader-role-password";

export const FIXTURES = join(REPO_ROOT, "test", "fixtures");

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface PostApplyWorld {
  readonly postgres: TestPostgres;
  readonly fake: FakeDatabricks;
  /**
   * A new temporary migrations directory holding the files of `fixtures` (directories under test/fixtures),
   * later ones replacing earlier files of the same name.
   */
  migrations(...fixtures: string[]): string;
  /** A new database as the platform leaves it. */
  createDatabase(name: string): Promise<void>;
  /** A new database as the platform leaves it, with a name not used before in this world. */
  freshDatabase(): Promise<string>;
  /** The variables Terraform's local-exec sets, plus the test-only connection overrides and a PAT. */
  applyEnv(database: string, migrationsDir: string, overrides?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Runs the runner as Terraform's local-exec does (`node tools/build/run.cjs tools/post-apply/main.ts <args>`) with exactly `env`. */
  run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult>;
  /** A connected client logged in as `role` (APP_ROLE or READER_ROLE). */
  connectAs(role: string, database: string): Promise<pg.Client>;
  /** Every schema, relation, column, constraint, function, ACL, default ACL and table content hash, as the superuser sees them. */
  snapshot(database: string): Promise<unknown[]>;
  stop(): Promise<void>;
}

export async function startPostApplyWorld(fakeOptions: Partial<FakeDatabricksOptions> = {}): Promise<PostApplyWorld> {
  const postgres = await startPostgres();
  const fake = await startFakeDatabricks({
    token: WORKSPACE_TOKEN,
    userName: DEPLOYER,
    databaseToken: DATABASE_TOKEN,
    instances: { [INSTANCE]: { states: ["AVAILABLE"], readWriteDns: postgres.host } },
    apps: { [APP_NAME]: APP_ROLE },
    roles: [READER_ROLE],
    ...fakeOptions,
  });
  const home = mkdtempSync(join(tmpdir(), "post-apply-home-"));
  await postgres.query(`
    CREATE ROLE ${pg.escapeIdentifier(DEPLOYER)} LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(DATABASE_TOKEN)};
    CREATE ROLE ${pg.escapeIdentifier(APP_ROLE)} LOGIN PASSWORD ${pg.escapeLiteral(APP_PASSWORD)};
    CREATE ROLE ${pg.escapeIdentifier(READER_ROLE)} LOGIN PASSWORD ${pg.escapeLiteral(READER_PASSWORD)};
  `);

  const passwords: Record<string, string> = { [APP_ROLE]: APP_PASSWORD, [READER_ROLE]: READER_PASSWORD };
  let databases = 0;
  const createDatabase = async (name: string) => {
    await postgres.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    await postgres.query(
      `GRANT CONNECT, CREATE ON DATABASE ${pg.escapeIdentifier(name)} TO ${pg.escapeIdentifier(DEPLOYER)}, ${pg.escapeIdentifier(APP_ROLE)}`,
    );
  };

  return {
    postgres,
    fake,
    migrations(...fixtures) {
      const dir = mkdtempSync(join(home, "migrations-"));
      for (const fixture of fixtures) cpSync(join(FIXTURES, fixture), dir, { recursive: true });
      return dir;
    },
    createDatabase,
    async freshDatabase() {
      const name = `fresh_${++databases}`;
      await createDatabase(name);
      return name;
    },
    applyEnv(database, migrationsDir, overrides = {}) {
      return {
        PATH: process.env.PATH,
        // A home of its own, so no ~/.databrickscfg of the machine running the tests is read.
        HOME: home,
        DATABRICKS_HOST: fake.host,
        DATABRICKS_TOKEN: WORKSPACE_TOKEN,
        POST_APPLY_INSTANCE: INSTANCE,
        POST_APPLY_DATABASE: database,
        POST_APPLY_SCHEMA: "app",
        POST_APPLY_APP_SP_CLIENT_ID: APP_ROLE,
        POST_APPLY_MIGRATIONS_DIR: migrationsDir,
        POST_APPLY_APP_ACCESS: "readWrite",
        POST_APPLY_READ_ONLY_ROLES: READER_ROLE,
        POST_APPLY_CONFIG_FILE: "environments/test.yaml",
        POST_APPLY_INSTANCE_TIMEOUT_SECONDS: "30",
        POST_APPLY_LOCK_TIMEOUT_SECONDS: "30",
        POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: "30",
        POST_APPLY_STATEMENT_TIMEOUT_SECONDS: "60",
        POST_APPLY_INSECURE_NO_TLS: "1",
        POST_APPLY_PG_PORT: String(postgres.port),
        ...overrides,
      };
    },
    run(args, env) {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["tools/build/run.cjs", "tools/post-apply/main.ts", ...args], {
          cwd: REPO_ROOT,
          env,
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
    },
    async connectAs(role, database) {
      const client = new pg.Client(postgres.clientConfig({ database, user: role, password: passwords[role] }));
      await client.connect();
      return client;
    },
    async snapshot(database) {
      return (await postgres.query(SNAPSHOT, [], database)).rows;
    },
    async stop() {
      await fake.stop();
      await postgres.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

const USER_SCHEMAS = `n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'`;

const SNAPSHOT = `
SELECT * FROM (
  SELECT 'database' AS kind, datname::text AS name, pg_get_userbyid(datdba)::text AS owner, datacl::text AS detail
    FROM pg_database WHERE datname = current_database()
  UNION ALL
  SELECT 'role', rolname, rolsuper::text, array(SELECT roleid::regrole::text FROM pg_auth_members WHERE member = r.oid ORDER BY 1)::text
    FROM pg_roles r WHERE rolname NOT LIKE 'pg\\_%'
  UNION ALL
  SELECT 'schema', nspname, pg_get_userbyid(nspowner), nspacl::text FROM pg_namespace n WHERE ${USER_SCHEMAS}
  UNION ALL
  SELECT 'relation', format('%I.%I', n.nspname, c.relname), pg_get_userbyid(c.relowner), c.relkind::text || ' ' || coalesce(c.relacl::text, '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS}
  UNION ALL
  SELECT 'column', format('%I.%I.%I', n.nspname, c.relname, a.attname), format_type(a.atttypid, a.atttypmod),
         a.attnotnull::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || coalesce(a.attacl::text, '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE ${USER_SCHEMAS} AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'constraint', format('%I.%I', n.nspname, co.conname), '', pg_get_constraintdef(co.oid)
    FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE ${USER_SCHEMAS}
  UNION ALL
  SELECT 'function', p.oid::regprocedure::text, pg_get_userbyid(p.proowner), coalesce(p.proacl::text, '') || ' ' || md5(p.prosrc)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMAS}
  UNION ALL
  SELECT 'trigger', t.tgname || ' on ' || t.tgrelid::regclass::text, '', pg_get_triggerdef(t.oid)
    FROM pg_trigger t WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'default acl', pg_get_userbyid(defaclrole) || ' in ' || coalesce(defaclnamespace::regnamespace::text, '*') || ' on ' || defaclobjtype::text, '', defaclacl::text
    FROM pg_default_acl
  UNION ALL
  SELECT 'content', format('%I.%I', n.nspname, c.relname), '',
         (xpath('/row/h/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), '''')) AS h FROM %I.%I t', n.nspname, c.relname), false, true, '')))[1]::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS} AND c.relkind IN ('r', 'p')
) snapshot
ORDER BY kind, name`;
