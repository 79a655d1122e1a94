/**
 * The shape of one environment: `environments/common.yaml` deep-merged with `environments/<env>.yaml`.
 *
 * Every object is strict (an unknown key is an error, so a typo never silently falls back to a default),
 * and every default below is the behaviour you get when the key is left out.
 *
 * Every string is either held to the platform's own pattern for it, or free text (marked so below). Free
 * text reaches Terraform as the literal text written (`terraformLiteral`: `${…}` and `%{…}` are never
 * evaluated); text that cdktf would take for one of its tokens is refused when the files are loaded.
 */
import { z } from "zod";
import { RESERVED_SECRET_KEYS } from "./secret-variable";

/** Databricks App names: lowercase letters, digits and hyphens, starting with a letter (RequiresReplace). */
const appName = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/,
    "expected 3-30 lowercase letters, digits or hyphens, starting with a letter",
  );

/** Lakebase instance names: 1-63 characters of letters, digits and hyphens. */
const instanceName = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/,
    "expected 2-63 lowercase letters, digits or hyphens, starting with a letter",
  );

/** A plain Postgres / Unity Catalog identifier, so it can be used unquoted in SQL and in catalog names. */
const identifier = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    "expected a lowercase identifier: letters, digits and underscores, not starting with a digit",
  );

/** The key an app binding is known by; app.yaml reads it with `valueFrom`. */
const resourceName = z
  .string()
  .regex(
    /^[a-z][a-z0-9-_]{0,62}$/,
    "expected a lowercase resource key: letters, digits, '-' or '_', starting with a letter",
  );

const secretKey = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,128}$/, "expected 1-128 letters, digits, '_', '-' or '.'")
  .refine((key) => !RESERVED_SECRET_KEYS.has(key), {
    message: "expected a key other than scope or a JavaScript object property (constructor, toString, __proto__, ...)",
  });

const secretScope = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, "expected 1-128 letters, digits, '_', '-' or '.'");

/** An app environment variable the platform does not set itself (DATABRICKS_*, PG* come from the platform). */
const appEnvName = z
  .string()
  .regex(
    /^(?!DATABRICKS_|PG)[A-Z_][A-Z0-9_]{0,127}$/,
    "expected an upper-case variable name (A-Z, 0-9, _) not starting with DATABRICKS_ or PG (the platform sets those)",
  );

/** Workspace paths for uploaded app source, without the `/Workspace` prefix the provider adds. Free text otherwise. */
const workspacePath = z
  .string()
  .regex(
    /^\/(?!Workspace\/)[^\s]+[^/]$/,
    "expected an absolute workspace path without the /Workspace prefix or a trailing slash",
  )
  // An empty, "." or ".." segment would name another directory than the one the guardrails read.
  .regex(
    /^(?!.*\/\.{0,2}(\/|$))[^\p{Cc}]*$/u,
    'expected path segments that are names: no empty, "." or ".." segment, no control characters',
  );

/**
 * A Databricks identity by name: a user's email address, a group name or a service principal's application
 * id. Free text otherwise.
 */
const principalName = z
  .string()
  .regex(
    /^[^\s\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u,
    "expected a name without control characters or surrounding spaces",
  );

/**
 * A Postgres role that is a Databricks identity. No ',' (the post-apply step receives the roles as one
 * comma-separated list), no '"' (the identifier quote; it cannot occur in an identity's name) and at most 63
 * bytes (Postgres would cut a longer name and grant to another role).
 */
const identityRole = principalName
  .regex(/^[^,"]*$/, "expected a role name without ',' or '\"'")
  .refine((role) => Buffer.byteLength(role) <= 63, {
    message: "expected a role name of at most 63 bytes (Postgres cuts longer names)",
  });

/**
 * Schemas the app's schema cannot be: Postgres' own (`pg_*`, `information_schema`), the post-apply runner's
 * migration history (`post_apply`: the app role, granted everything in its schema, could rewrite it) and
 * `public`, which every database has for everyone: the app's grants and default privileges there would reach
 * objects it does not own, and drift would report them.
 */
const RESERVED_SCHEMAS = new Set(["information_schema", "post_apply", "public"]);
const appSchema = identifier.refine((schema) => !schema.startsWith("pg_") && !RESERVED_SCHEMAS.has(schema), {
  message: "expected a schema of the app's own, not pg_*, information_schema, post_apply or public",
});

/** Exactly one kind of principal per grant, as `databricks_permissions` requires. */
function principalGrant<const Level extends string>(levels: readonly [Level, ...Level[]]) {
  return z
    .strictObject({
      user: z.email().optional(),
      group: principalName.optional(),
      servicePrincipal: z.uuid().optional(),
      level: z.enum(levels),
    })
    .refine((g) => [g.user, g.group, g.servicePrincipal].filter((p) => p !== undefined).length === 1, {
      message: "expected exactly one of user, group or servicePrincipal",
    });
}

const backend = z.discriminatedUnion("type", [
  /** State in `<state dir>/<env>.tfstate`: `terraform-state/` of this repository, or STACK_STATE_DIR (stacks/state/). */
  z.strictObject({
    type: z.literal("local"),
    /**
     * Why a `production: true` environment keeps local state anyway: accepts the DBX-ProductionRemoteState
     * finding (the review shows the reason). Free text.
     * @default - none: a production environment needs a remote backend that locks
     */
    reason: z.string().trim().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal("s3"),
    /** Legacy bucket names included (capitals, underscores). */
    bucket: z
      .string()
      .regex(/^[A-Za-z0-9._-]{3,255}$/, "expected an S3 bucket name: 3-255 letters, digits, '.', '_' or '-'"),
    /** Free text. */
    key: z.string().min(1),
    region: z.string().regex(/^[a-z0-9-]+$/, "expected a region such as eu-west-1"),
    /** Lock with this DynamoDB table instead (Terraform 1.11 deprecates it). @default - S3's native lock file (`use_lockfile`, Terraform >= 1.10) */
    dynamodbTable: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{3,255}$/, "expected a DynamoDB table name: 3-255 letters, digits, '_', '.' or '-'")
      .optional(),
  }),
  z.strictObject({
    type: z.literal("azurerm"),
    resourceGroupName: z
      .string()
      .regex(
        /^[\p{L}\p{N}_.()-]{0,89}[\p{L}\p{N}_()-]$/u,
        "expected a resource group name: 1-90 letters, digits, '_', '.', '(', ')' or '-', not ending in '.'",
      ),
    storageAccountName: z
      .string()
      .regex(/^[a-z0-9]{3,24}$/, "expected a storage account name: 3-24 lowercase letters or digits"),
    containerName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, "expected a container name: 3-63 lowercase letters, digits or '-'"),
    /** Free text. */
    key: z.string().min(1),
  }),
  z.strictObject({
    type: z.literal("gcs"),
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/,
        "expected a GCS bucket name: 3-222 lowercase letters, digits, '.', '_' or '-'",
      ),
    /** Free text. */
    prefix: z.string().min(1),
  }),
  /** An HCP Terraform workspace in the Local execution mode (state and locking only: the post-apply step runs from this repository). */
  z.strictObject({
    type: z.literal("remote"),
    hostname: z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/, "expected a host name, optionally with :port")
      .default("app.terraform.io"),
    organization: z.string().regex(/^[A-Za-z0-9_-]+$/, "expected an organization name: letters, digits, '_' or '-'"),
    workspace: z.string().regex(/^[A-Za-z0-9_-]{1,90}$/, "expected a workspace name: 1-90 letters, digits, '_' or '-'"),
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
      /** The workspace URL: an origin, nothing after the host. */
      host: z
        .string()
        .regex(
          /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/?$/,
          "expected the workspace URL, http(s)://<host>[:<port>] without a path",
        )
        .optional(),
      /** A section of ~/.databrickscfg. Free text otherwise. */
      profile: z
        .string()
        .regex(
          /^[^\s[\]\p{Cc}](?:[^[\]\p{Cc}]*[^\s[\]\p{Cc}])?$/u,
          "expected a profile name without brackets, control characters or surrounding spaces",
        )
        .optional(),
    })
    .default({}),

  /** Where Terraform keeps this environment's state. @default - local state, `<state dir>/<env>.tfstate` */
  backend: backend.default({ type: "local" }),

  app: z.strictObject({
    name: appName,
    /** Free text. Always sent, because the Apps API returns "" for a missing description (perpetual diff otherwise). @default "" */
    description: z.string().default(""),
    computeSize: z.enum(["MEDIUM", "LARGE"]).default("MEDIUM"),
    /** On-behalf-of-user scopes. @default - none: the app acts only as its service principal */
    userApiScopes: z
      .array(
        z
          .string()
          .regex(
            /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*(:[a-z]+)?$/,
            "expected an API scope such as sql or iam.current-user:read",
          ),
      )
      .default([]),
    /** @default - `/Shared/apps/<app name>` */
    sourcePath: workspacePath.optional(),
    /**
     * Plain settings added to the app's environment in this environment only (app.yaml `env`, e.g.
     * `LOG_LEVEL: debug`); never secrets, which stay `valueFrom` bindings. @default - none
     */
    env: z.record(appEnvName, z.string()).default({}),
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
          id: z.string().regex(/^[0-9a-z]+$/, "expected a SQL warehouse id: lowercase letters and digits"),
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
    /** Free text, keys and values. */
    tags: z.record(z.string().min(1), z.string()).default({}),
    stopped: z.boolean().default(false),
  }),

  database: z.strictObject({
    /** The Postgres database, created by the catalog registration if it does not exist. */
    name: identifier,
    /** The Unity Catalog catalog the database is registered as. */
    catalog: identifier,
    /** The schema the migrations create and the app uses. @default "app" */
    schema: appSchema.default("app"),
    /** What the app's role may do with the schema's tables. @default "readWrite" */
    appAccess: z.enum(["readWrite", "readOnly"]).default("readWrite"),
    /** Extra existing Postgres roles given read-only access (USAGE + SELECT). @default - none */
    readOnlyRoles: z.array(identityRole).default([]),
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
        name: z.string().regex(/^[A-Za-z0-9_-]+$/, "expected a serving endpoint name: letters, digits, '_' or '-'"),
        permission: z.enum(["CAN_QUERY", "CAN_VIEW", "CAN_MANAGE"]).default("CAN_QUERY"),
        /** Free text: why the app needs more than CAN_QUERY; required by the guardrails for CAN_MANAGE. */
        reason: z.string().regex(/\S/, "expected a reason (some text)").optional(),
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
      /** How long the release may take: starting the app's compute, a deployment already in progress, and the new one. @default 1200 */
      releaseTimeoutSeconds: z.int().min(1).default(1200),
    })
    .default({
      instanceReadyTimeoutSeconds: 900,
      lockTimeoutSeconds: 300,
      statementLockTimeoutSeconds: 10,
      statementTimeoutSeconds: 3600,
      releaseTimeoutSeconds: 1200,
    }),
});

/** One validated environment, with its name (the file name without `.yaml`) and that file, as messages name it. */
export type EnvironmentConfig = z.infer<typeof environmentSchema> & { readonly name: string; readonly file: string };
export type BackendConfig = EnvironmentConfig["backend"];
export type PrincipalGrant = EnvironmentConfig["permissions"]["app"][number];
