/**
 * The post-apply contract, declared once: what the stacks' post-apply and release steps hand the runner
 * through Terraform's `local-exec` (its command and its `POST_APPLY_*` environment variables), and what the
 * runner makes of it. The constructs (stacks/post-apply, stacks/release) write it with `applyStepEnvironment`
 * and `releaseStepEnvironment`; the runner reads it back with `inputsFromApplyEnvironment` and
 * `releaseInputsFromEnvironment`; a run by hand (and drift) gets the same inputs from an environment's YAML
 * with `inputsFromEnvironmentConfig`. The runner's README lists `APPLY_VARIABLES` and `RELEASE_VARIABLES`
 * (a test holds them together).
 *
 * Names, paths, hashes and bounds only: credentials reach the runner from the environment of the process
 * running Terraform, never through this contract (so never through the state, a plan or an argument list).
 */
import { relative, resolve, sep } from "node:path";
import { z } from "zod";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { terraformLiteral } from "../../stacks/config/terraform-literal";
import { MIGRATIONS_DIR, REPO_ROOT } from "../../stacks/repo-paths";
import { UserError } from "./user-error";

/** The runner's post-apply entry point, run from the repository root, precompiled (tools/build/run.cjs). */
export const POST_APPLY_COMMAND = "node tools/build/run.cjs tools/post-apply/main.ts apply";
/** The runner's release entry point, run from the repository root, precompiled (tools/build/run.cjs). */
export const RELEASE_COMMAND = "node tools/build/run.cjs tools/post-apply/main.ts release";

type AccessLevel = EnvironmentConfig["database"]["appAccess"];
/** Which workspace the environment's YAML chose; unset fields resolve as the Databricks SDK does. */
export type WorkspaceTarget = EnvironmentConfig["workspace"];

/** What the post-apply step passes the runner: as the construct writes it, and as the runner reads it back. */
export interface ApplyStepInputs {
  /** The Lakebase instance; waited for until `AVAILABLE`. */
  readonly instance: string;
  /** The Postgres database on the instance. */
  readonly database: string;
  /** The app schema: created (owned by the deployer) if missing, migrated, granted. */
  readonly schema: string;
  /** The app's service principal's client id, which is its Postgres role name. */
  readonly appRole: string;
  /** Absolute path of the migrations directory; passed relative to the repository root. */
  readonly migrationsDir: string;
  readonly appAccess: AccessLevel;
  /** Workspace identities that get read-only access to the schema; their Lakebase roles are created if missing. */
  readonly readOnlyRoles: readonly string[];
  /** The environment's YAML file (relative to the repository), named in errors about what it configured. */
  readonly configFile: string;
  readonly instanceTimeoutSeconds: number;
  readonly lockTimeoutSeconds: number;
  readonly statementLockTimeoutSeconds: number;
  readonly statementTimeoutSeconds: number;
}

/** What the release step passes the runner. */
export interface ReleaseStepInputs {
  /** The app's name. */
  readonly app: string;
  /** Absolute path of the app's source directory; passed relative to the repository root. */
  readonly sourceDir: string;
  /** The app's workspace directory, without the `/Workspace` prefix. */
  readonly workspacePath: string;
  /** The deployed file set's hash as synthesized: what the plan promised. */
  readonly sourceSha256: string;
  /** The environment's plain app settings (`app.env`), added to app.yaml. */
  readonly appEnv: Readonly<Record<string, string>>;
  /** Bound on the whole release: compute start, other deployments, this deployment. */
  readonly releaseTimeoutSeconds: number;
}

/** One environment variable of the contract: its name, how the runner reads it and how the construct writes it. */
interface Variable<T> {
  readonly name: string;
  readonly schema: z.ZodType<T>;
  readonly write: (value: T) => string;
}

function variable<T>(name: string, schema: z.ZodType<T>, write: (value: T) => string = String): Variable<T> {
  return { name, schema, write };
}

const text = z.string().min(1);
const positiveInt = z.coerce.number().int().positive();
/** What PostgreSQL accepts as a timeout: at most 2^31 - 1 milliseconds. */
const postgresSeconds = positiveInt.max(2_147_483);
/** A path of this repository: written relative to its root (so the state holds no machine's layout). */
const repositoryPath = z
  .string()
  .min(1)
  .transform((path) => resolve(REPO_ROOT, path));
const writeRepositoryPath = (path: string) => terraformLiteral(relative(REPO_ROOT, path).split(sep).join("/"));
const ACCESS_LEVELS: Record<AccessLevel, true> = { readWrite: true, readOnly: true };

export const APPLY_VARIABLES: { readonly [K in keyof ApplyStepInputs]-?: Variable<ApplyStepInputs[K]> } = {
  instance: variable("POST_APPLY_INSTANCE", text),
  database: variable("POST_APPLY_DATABASE", text),
  schema: variable("POST_APPLY_SCHEMA", text),
  appRole: variable("POST_APPLY_APP_SP_CLIENT_ID", text),
  migrationsDir: variable("POST_APPLY_MIGRATIONS_DIR", repositoryPath, writeRepositoryPath),
  appAccess: variable("POST_APPLY_APP_ACCESS", z.enum(Object.keys(ACCESS_LEVELS) as [AccessLevel, ...AccessLevel[]])),
  // Comma-separated: the configuration refuses a read-only role with a comma in it.
  readOnlyRoles: variable<readonly string[]>(
    "POST_APPLY_READ_ONLY_ROLES",
    z
      .string()
      .default("")
      .transform((list) =>
        list
          .split(",")
          .map((role) => role.trim())
          .filter(Boolean),
      ),
    (roles) => roles.join(","),
  ),
  configFile: variable("POST_APPLY_CONFIG_FILE", text),
  instanceTimeoutSeconds: variable("POST_APPLY_INSTANCE_TIMEOUT_SECONDS", positiveInt),
  lockTimeoutSeconds: variable("POST_APPLY_LOCK_TIMEOUT_SECONDS", postgresSeconds),
  statementLockTimeoutSeconds: variable("POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS", postgresSeconds),
  statementTimeoutSeconds: variable("POST_APPLY_STATEMENT_TIMEOUT_SECONDS", postgresSeconds),
};

export const RELEASE_VARIABLES: { readonly [K in keyof ReleaseStepInputs]-?: Variable<ReleaseStepInputs[K]> } = {
  app: variable("POST_APPLY_APP_NAME", text),
  sourceDir: variable("POST_APPLY_SOURCE_DIR", repositoryPath, writeRepositoryPath),
  workspacePath: variable("POST_APPLY_WORKSPACE_PATH", z.string().startsWith("/")),
  sourceSha256: variable("POST_APPLY_SOURCE_SHA256", z.string().regex(/^[0-9a-f]{64}$/)),
  appEnv: variable(
    "POST_APPLY_APP_ENV",
    z
      .string()
      .default("{}")
      .transform((json, ctx) => {
        try {
          return z.record(z.string(), z.string()).parse(JSON.parse(json));
        } catch {
          ctx.addIssue({ code: "custom", message: "expected a JSON object of names to strings" });
          return z.NEVER;
        }
      }),
    (env) => JSON.stringify(env),
  ),
  releaseTimeoutSeconds: variable("POST_APPLY_RELEASE_TIMEOUT_SECONDS", positiveInt),
};

/** TEST ONLY: the integration tests run a local PostgreSQL without TLS on a random port. Never written by a construct. */
export const TEST_ONLY_VARIABLES = {
  /** Connect without TLS. */
  insecureNoTls: variable("POST_APPLY_INSECURE_NO_TLS", z.enum(["1"]).optional()),
  /** Connect to this port instead of 5432. */
  port: variable("POST_APPLY_PG_PORT", positiveInt.max(65535).optional()),
};

/** The post-apply step's `local-exec` environment. */
export function applyStepEnvironment(inputs: ApplyStepInputs, workspace: WorkspaceTarget = {}): Record<string, string> {
  return { ...write(APPLY_VARIABLES, inputs), ...workspaceVariables(workspace) };
}

/** The release step's `local-exec` environment. */
export function releaseStepEnvironment(
  inputs: ReleaseStepInputs,
  workspace: WorkspaceTarget = {},
): Record<string, string> {
  return { ...write(RELEASE_VARIABLES, inputs), ...workspaceVariables(workspace) };
}

/** Not credentials: which workspace (and ~/.databrickscfg profile) the YAML chose for the provider; the runner uses the same. */
function workspaceVariables(workspace: WorkspaceTarget): Record<string, string> {
  return {
    ...(workspace.host && { DATABRICKS_HOST: workspace.host }),
    ...(workspace.profile && { DATABRICKS_CONFIG_PROFILE: workspace.profile }),
  };
}

/**
 * Everything one post-apply run needs. Both ways in, the `local-exec` variables (`apply`) and an
 * environment's YAML (by hand), end here, and the runner's core takes only this.
 */
export interface PostApplyInputs {
  readonly instance: string;
  readonly database: string;
  readonly schema: string;
  /** The app service principal's client id, which is its Postgres role name. */
  readonly appRole: string;
  readonly appAccess: AccessLevel;
  readonly readOnlyRoles: readonly string[];
  /** The environment's YAML file (relative to the repository), named in errors about what it configured. */
  readonly configFile: string;
  /** Absolute path of the directory of `NNNN_description.sql` files. */
  readonly migrationsDir: string;
  readonly instanceTimeoutSeconds: number;
  readonly lockTimeoutSeconds: number;
  /** Bounds on each migration statement's waits. */
  readonly statementBounds: StatementBounds;
  /** List what would change; change nothing. */
  readonly dryRun: boolean;
  readonly connection: ConnectionOverrides;
}

/**
 * How to reach PostgreSQL beyond the instance's DNS name. Production always uses port 5432 with TLS
 * required; the TEST_ONLY_VARIABLES change that for the integration tests.
 */
export interface ConnectionOverrides {
  readonly port: number;
  readonly tls: boolean;
}

/** How long one migration statement may wait for another session's lock, and run in all (`postApply.statement*`). */
export interface StatementBounds {
  readonly lockTimeoutSeconds: number;
  readonly timeoutSeconds: number;
}

export const LAKEBASE_PORT = 5432;

/** `apply`: the inputs from the variables the post-apply step's `local-exec` sets. */
export function inputsFromApplyEnvironment(env: NodeJS.ProcessEnv, dryRun: boolean): PostApplyInputs {
  const { statementLockTimeoutSeconds, statementTimeoutSeconds, ...inputs } = read(APPLY_VARIABLES, env);
  return {
    ...inputs,
    statementBounds: { lockTimeoutSeconds: statementLockTimeoutSeconds, timeoutSeconds: statementTimeoutSeconds },
    dryRun,
    connection: connectionOverrides(env),
  };
}

/**
 * By hand (`npm run migrate -- <env>`) and for drift: the same inputs from an environment's configuration and
 * its app's service principal. The migrations are the app's (`app-src/migrations`) unless
 * POST_APPLY_MIGRATIONS_DIR says otherwise.
 */
export function inputsFromEnvironmentConfig(
  config: EnvironmentConfig,
  appRole: string,
  env: NodeJS.ProcessEnv,
  dryRun: boolean,
): PostApplyInputs {
  return {
    instance: config.lakebase.instanceName,
    database: config.database.name,
    schema: config.database.schema,
    appRole,
    appAccess: config.database.appAccess,
    readOnlyRoles: config.database.readOnlyRoles,
    configFile: config.file,
    migrationsDir: env.POST_APPLY_MIGRATIONS_DIR ? resolve(REPO_ROOT, env.POST_APPLY_MIGRATIONS_DIR) : MIGRATIONS_DIR,
    instanceTimeoutSeconds: config.postApply.instanceReadyTimeoutSeconds,
    lockTimeoutSeconds: config.postApply.lockTimeoutSeconds,
    statementBounds: {
      lockTimeoutSeconds: config.postApply.statementLockTimeoutSeconds,
      timeoutSeconds: config.postApply.statementTimeoutSeconds,
    },
    dryRun,
    connection: connectionOverrides(env),
  };
}

/** `release`: which app to deploy from where, from the variables the release step's `local-exec` sets. */
export function releaseInputsFromEnvironment(env: NodeJS.ProcessEnv): ReleaseStepInputs {
  return read(RELEASE_VARIABLES, env);
}

function connectionOverrides(env: NodeJS.ProcessEnv): ConnectionOverrides {
  const { insecureNoTls, port } = read(TEST_ONLY_VARIABLES, env);
  return { port: port ?? LAKEBASE_PORT, tls: insecureNoTls !== "1" };
}

function write<T extends object>(variables: { readonly [K in keyof T]: Variable<T[K]> }, values: T) {
  return Object.fromEntries(
    (Object.keys(variables) as (keyof T)[]).map((key) => [variables[key].name, variables[key].write(values[key])]),
  );
}

/** Reads `variables` from `env`. @throws UserError (step `inputs`) naming every variable that is missing or invalid. */
function read<T extends object>(variables: { readonly [K in keyof T]: Variable<T[K]> }, env: NodeJS.ProcessEnv): T {
  const keys = Object.keys(variables) as (keyof T)[];
  const schema = z.object(Object.fromEntries(keys.map((key) => [variables[key].name, variables[key].schema])));
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      if (env[name] === undefined) return `${name} is not set`;
      return `${name}: ${issue.message.replace(/^Invalid (input|option): /, "")}, found ${JSON.stringify(env[name])}`;
    });
    throw new UserError(problems.join("; "), { step: "inputs" });
  }
  const values = result.data as Record<string, unknown>;
  return Object.fromEntries(keys.map((key) => [key, values[variables[key].name]])) as T;
}
