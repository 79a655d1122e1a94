/**
 * Everything one post-apply run needs, typed, and the two ways to get it: from the environment variables
 * Terraform's `local-exec` sets (`apply`), or from an environment's YAML plus the app's service principal
 * looked up in the workspace (`<env>`, by hand). Both entry points then call the same core.
 */
import { resolve } from "node:path";
import { z } from "zod";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { MIGRATIONS_DIR, REPO_ROOT } from "../../stacks/repo-paths";
import { ACCESS_LEVELS, type AccessLevel } from "../lib/lakebase/access-levels";
import type { ReleaseInputs } from "./release";
import { StepError } from "../lib/step-error";

export interface PostApplyInputs {
  /** Lakebase instance name. */
  readonly instance: string;
  /** Postgres database on the instance. */
  readonly database: string;
  /** The app schema: created (owned by the deployer) if missing, migrated, granted. */
  readonly schema: string;
  /** The app service principal's client id, which is its Postgres role name. */
  readonly appRole: string;
  readonly appAccess: AccessLevel;
  /** Workspace identities that get read-only access to the schema; their Lakebase roles are created if missing. */
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
 * required; the two TEST-ONLY variables exist because the integration tests run a local PostgreSQL
 * without TLS on a random port.
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

const positiveInt = z.coerce.number().int().positive();
/** What PostgreSQL accepts as a timeout: at most 2^31 - 1 milliseconds. */
const postgresSeconds = positiveInt.max(2_147_483);

const applyEnvironment = z.object({
  POST_APPLY_INSTANCE: z.string().min(1),
  POST_APPLY_DATABASE: z.string().min(1),
  POST_APPLY_SCHEMA: z.string().min(1),
  POST_APPLY_APP_SP_CLIENT_ID: z.string().min(1),
  POST_APPLY_MIGRATIONS_DIR: z.string().min(1),
  POST_APPLY_APP_ACCESS: z.enum(Object.keys(ACCESS_LEVELS) as [AccessLevel, ...AccessLevel[]]),
  POST_APPLY_READ_ONLY_ROLES: z.string().default(""),
  POST_APPLY_CONFIG_FILE: z.string().min(1),
  POST_APPLY_INSTANCE_TIMEOUT_SECONDS: positiveInt,
  POST_APPLY_LOCK_TIMEOUT_SECONDS: postgresSeconds,
  POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: postgresSeconds,
  POST_APPLY_STATEMENT_TIMEOUT_SECONDS: postgresSeconds,
});

const testOverrides = z.object({
  /** TEST ONLY: connect without TLS. */
  POST_APPLY_INSECURE_NO_TLS: z.enum(["1"]).optional(),
  /** TEST ONLY: connect to this port instead of 5432. */
  POST_APPLY_PG_PORT: positiveInt.max(65535).optional(),
});

/** `apply`: the inputs Terraform's local-exec passes as (non-secret) environment variables. */
export function inputsFromApplyEnvironment(env: NodeJS.ProcessEnv, dryRun: boolean): PostApplyInputs {
  const vars = parseEnvironment(applyEnvironment, env);
  return {
    instance: vars.POST_APPLY_INSTANCE,
    database: vars.POST_APPLY_DATABASE,
    schema: vars.POST_APPLY_SCHEMA,
    appRole: vars.POST_APPLY_APP_SP_CLIENT_ID,
    appAccess: vars.POST_APPLY_APP_ACCESS,
    readOnlyRoles: vars.POST_APPLY_READ_ONLY_ROLES.split(",")
      .map((r) => r.trim())
      .filter(Boolean),
    configFile: vars.POST_APPLY_CONFIG_FILE,
    migrationsDir: resolve(REPO_ROOT, vars.POST_APPLY_MIGRATIONS_DIR),
    instanceTimeoutSeconds: vars.POST_APPLY_INSTANCE_TIMEOUT_SECONDS,
    lockTimeoutSeconds: vars.POST_APPLY_LOCK_TIMEOUT_SECONDS,
    statementBounds: {
      lockTimeoutSeconds: vars.POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS,
      timeoutSeconds: vars.POST_APPLY_STATEMENT_TIMEOUT_SECONDS,
    },
    dryRun,
    connection: connectionOverrides(env),
  };
}

/**
 * `<env>`: the same inputs from an environment's configuration and its app's service principal. The
 * migrations are the app's (`app-src/migrations`) unless POST_APPLY_MIGRATIONS_DIR says otherwise.
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

/** `release`: which app to deploy from where, from the variables the release step's local-exec sets. */
export function releaseInputsFromEnvironment(env: NodeJS.ProcessEnv): ReleaseInputs {
  const vars = parseEnvironment(releaseEnvironment, env);
  return {
    app: vars.POST_APPLY_APP_NAME,
    source: {
      sourceDir: resolve(REPO_ROOT, vars.POST_APPLY_SOURCE_DIR),
      workspacePath: vars.POST_APPLY_WORKSPACE_PATH,
      sha256: vars.POST_APPLY_SOURCE_SHA256,
      env: vars.POST_APPLY_APP_ENV,
    },
    timeoutSeconds: vars.POST_APPLY_RELEASE_TIMEOUT_SECONDS,
  };
}

const releaseEnvironment = z.object({
  POST_APPLY_APP_NAME: z.string().min(1),
  POST_APPLY_SOURCE_DIR: z.string().min(1),
  POST_APPLY_WORKSPACE_PATH: z.string().startsWith("/"),
  POST_APPLY_SOURCE_SHA256: z.string().regex(/^[0-9a-f]{64}$/),
  POST_APPLY_APP_ENV: z
    .string()
    .default("{}")
    .transform((text, ctx) => {
      try {
        return z.record(z.string(), z.string()).parse(JSON.parse(text));
      } catch {
        ctx.addIssue({ code: "custom", message: "expected a JSON object of names to strings" });
        return z.NEVER;
      }
    }),
  POST_APPLY_RELEASE_TIMEOUT_SECONDS: positiveInt,
});

function connectionOverrides(env: NodeJS.ProcessEnv): ConnectionOverrides {
  const vars = parseEnvironment(testOverrides, env);
  return { port: vars.POST_APPLY_PG_PORT ?? LAKEBASE_PORT, tls: vars.POST_APPLY_INSECURE_NO_TLS !== "1" };
}

function parseEnvironment<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    if (env[name] === undefined) return `${name} is not set`;
    return `${name}: ${issue.message.replace(/^Invalid (input|option): /, "")}, found ${JSON.stringify(env[name])}`;
  });
  throw new StepError("inputs", problems.join("; "));
}
