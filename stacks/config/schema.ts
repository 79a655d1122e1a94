/**
 * The shape of one environment: `environments/common.yaml` deep-merged with `environments/<env>.yaml`.
 *
 * Every object is strict (an unknown key is an error, so a typo never silently falls back to a default),
 * and every default below is the behaviour you get when the key is left out.
 */
import { z } from "zod";

/** Databricks App names: lowercase letters, digits and hyphens, starting with a letter (RequiresReplace). */
const appName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,28}[a-z0-9]$/, "expected 3-30 lowercase letters, digits or hyphens, starting with a letter");

/** Lakebase instance names: 1-63 characters of letters, digits and hyphens. */
const instanceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, "expected 2-63 lowercase letters, digits or hyphens, starting with a letter");

/** A plain Postgres / Unity Catalog identifier, so it can be used unquoted in SQL and in catalog names. */
const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected a lowercase identifier: letters, digits and underscores, not starting with a digit");

/** The key an app binding is known by; app.yaml reads it with `valueFrom`. */
const resourceName = z
  .string()
  .regex(/^[a-z][a-z0-9-_]{0,62}$/, "expected a lowercase resource key: letters, digits, '-' or '_', starting with a letter");

const secretKey = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,128}$/, "expected 1-128 letters, digits, '_', '-' or '.'");

const secretScope = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,128}$/, "expected 1-128 letters, digits, '_', '-' or '.'");

/** Workspace paths for uploaded app source, without the `/Workspace` prefix the provider adds. */
const workspacePath = z
  .string()
  .regex(/^\/(?!Workspace\/)[^\s]+[^/]$/, "expected an absolute workspace path without the /Workspace prefix or a trailing slash");

/** Exactly one kind of principal per grant, as `databricks_permissions` requires. */
function principalGrant<const Level extends string>(levels: readonly [Level, ...Level[]]) {
  return z
    .strictObject({
      user: z.email().optional(),
      group: z.string().min(1).optional(),
      servicePrincipal: z.uuid().optional(),
      level: z.enum(levels),
    })
    .refine((g) => [g.user, g.group, g.servicePrincipal].filter((p) => p !== undefined).length === 1, {
      message: "expected exactly one of user, group or servicePrincipal",
    });
}

const backend = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("local"),
    /** @default - `terraform.<env>.tfstate` in the stack's output directory */
    path: z.string().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal("s3"),
    bucket: z.string().min(1),
    key: z.string().min(1),
    region: z.string().min(1),
    /** @default - S3 native lock file (`use_lockfile`) */
    dynamodbTable: z.string().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal("azurerm"),
    resourceGroupName: z.string().min(1),
    storageAccountName: z.string().min(1),
    containerName: z.string().min(1),
    key: z.string().min(1),
  }),
  z.strictObject({
    type: z.literal("gcs"),
    bucket: z.string().min(1),
    prefix: z.string().min(1),
  }),
  z.strictObject({
    type: z.literal("remote"),
    hostname: z.string().min(1).default("app.terraform.io"),
    organization: z.string().min(1),
    workspace: z.string().min(1),
  }),
]);

/** Whole seconds that PostgreSQL accepts as a lock or statement timeout (at most 2^31 - 1 milliseconds). */
const postgresSeconds = z.int().min(1).max(2_147_483);

export const environmentSchema = z.strictObject({
  /** Production environments get `prevent_destroy` on stateful resources. @default false */
  production: z.boolean().default(false),

  /** Which workspace to talk to. @default - the provider's own resolution (DATABRICKS_HOST, profile, ...) */
  workspace: z
    .strictObject({
      host: z.url({ protocol: /^https?$/ }).optional(),
      profile: z.string().min(1).optional(),
    })
    .default({}),

  /** Where Terraform keeps this environment's state. @default - a local state file */
  backend: backend.default({ type: "local" }),

  app: z.strictObject({
    name: appName,
    /** Always sent, because the Apps API returns "" for a missing description (perpetual diff otherwise). @default "" */
    description: z.string().default(""),
    computeSize: z.enum(["MEDIUM", "LARGE"]).default("MEDIUM"),
    /** On-behalf-of-user scopes. @default - none: the app acts only as its service principal */
    userApiScopes: z.array(z.string().min(1)).default([]),
    /** @default - `/Shared/apps/<app name>` */
    sourcePath: workspacePath.optional(),
    /** Resource key of the Lakebase database binding (PGHOST, PGDATABASE... are injected from it). @default "database" */
    databaseResourceName: resourceName.default("database"),
    /** Secrets the app may read, each bound under its own resource key. @default - none */
    secrets: z
      .array(
        z.strictObject({
          resourceName,
          /** Must be one of `secrets.keys`. */
          key: secretKey,
          permission: z.enum(["READ", "WRITE", "MANAGE"]).default("READ"),
        }),
      )
      .default([]),
    /** Existing SQL warehouses the app may use. @default - none */
    sqlWarehouses: z
      .array(
        z.strictObject({
          resourceName,
          id: z.string().min(1),
          permission: z.enum(["CAN_USE", "CAN_MANAGE", "IS_OWNER"]).default("CAN_USE"),
        }),
      )
      .default([]),
    /** Existing jobs the app may run. @default - none */
    jobs: z
      .array(
        z.strictObject({
          resourceName,
          id: z.string().regex(/^[0-9]+$/, "expected a numeric job id"),
          permission: z.enum(["CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER"]).default("CAN_MANAGE_RUN"),
        }),
      )
      .default([]),
  }),

  lakebase: z.strictObject({
    instanceName,
    capacity: z.enum(["CU_1", "CU_2", "CU_4", "CU_8"]).default("CU_1"),
    /** One primary plus up to two secondaries. @default 1 */
    nodeCount: z.int().min(1).max(3).default(1),
    retentionWindowInDays: z.int().min(2).max(35).default(7),
    tags: z.record(z.string().min(1), z.string()).default({}),
    stopped: z.boolean().default(false),
  }),

  database: z.strictObject({
    /** The Postgres database, created by the catalog registration if it does not exist. */
    name: identifier,
    /** The Unity Catalog catalog the database is registered as. */
    catalog: identifier,
    /** The schema the migrations create and the app uses. @default "app" */
    schema: identifier.default("app"),
    /** What the app's role may do with the schema's tables. @default "readWrite" */
    appAccess: z.enum(["readWrite", "readOnly"]).default("readWrite"),
    /** Extra existing Postgres roles given read-only access (USAGE + SELECT). @default - none */
    readOnlyRoles: z.array(z.string().min(1)).default([]),
  }),

  /** The app's secret scope; values come from `TF_VAR_secret_<key>` at plan time, never from YAML. @default - no scope */
  secrets: z
    .strictObject({
      scope: secretScope,
      keys: z.array(secretKey).min(1),
    })
    .optional(),

  /** Existing serving endpoints bound to the app. @default - none */
  servingEndpoints: z
    .array(
      z.strictObject({
        resourceName,
        name: z.string().min(1),
        permission: z.enum(["CAN_QUERY", "CAN_VIEW", "CAN_MANAGE"]).default("CAN_QUERY"),
        /** Why the app needs more than CAN_QUERY; required by the guardrails for CAN_MANAGE. */
        reason: z.string().min(1).optional(),
      }),
    )
    .default([]),

  /** Who may use or manage the app and the Lakebase instance (authoritative: others are removed). */
  permissions: z
    .strictObject({
      app: z.array(principalGrant(["CAN_USE", "CAN_MANAGE"])).default([]),
      instance: z.array(principalGrant(["CAN_USE", "CAN_MANAGE"])).default([]),
    })
    .default({ app: [], instance: [] }),

  /** Bounds on the post-apply runner's waits. */
  postApply: z
    .strictObject({
      /** How long to wait for the instance to become AVAILABLE. @default 900 */
      instanceReadyTimeoutSeconds: z.int().min(1).default(900),
      /** How long to wait for another runner's migration lock. @default 300 */
      lockTimeoutSeconds: postgresSeconds.default(300),
      /**
       * How long one migration statement may wait for a lock another session holds on what it changes (the
       * app reading a table an ALTER TABLE needs, say; the app's queries on it queue behind the wait), as
       * PostgreSQL's `lock_timeout`. @default 10
       */
      statementLockTimeoutSeconds: postgresSeconds.default(10),
      /** How long one migration statement may run, lock waits included, as PostgreSQL's `statement_timeout`. @default 3600 */
      statementTimeoutSeconds: postgresSeconds.default(3600),
    })
    .default({ instanceReadyTimeoutSeconds: 900, lockTimeoutSeconds: 300, statementLockTimeoutSeconds: 10, statementTimeoutSeconds: 3600 }),
});

/** One validated environment, with its name (the file name without `.yaml`). */
export type EnvironmentConfig = z.infer<typeof environmentSchema> & { readonly name: string };
export type BackendConfig = EnvironmentConfig["backend"];
export type PrincipalGrant = EnvironmentConfig["permissions"]["app"][number];
