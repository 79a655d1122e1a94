import { createHash } from "node:crypto";
import { relative, sep } from "node:path";
import { Construct } from "constructs";
import type { App as AppResource } from "@cdktf/provider-databricks/lib/app";
import type { DatabaseDatabaseCatalog } from "@cdktf/provider-databricks/lib/database-database-catalog";
import type { DatabaseInstance } from "@cdktf/provider-databricks/lib/database-instance";
import { TerraformData } from "../terraform-data";
import type { EnvironmentConfig } from "../config/schema";
import { terraformLiteral } from "../config/terraform-literal";
import { relativeToStackDirectory } from "../stack-paths";
import { migrationsSha256 } from "./migrations";
import { oncePerApp } from "../once-per-app";
import { MIGRATIONS_DIR, REPO_ROOT } from "../repo-paths";

/** The runner program, run from the repository root (another tool owns it: `tools/post-apply/`), precompiled (tools/build/run.cjs). */
export const POST_APPLY_COMMAND = "node tools/build/run.cjs tools/post-apply/main.ts apply";

export interface PostApplyProps {
  /** The app whose service principal gets the grants; also waited for. */
  readonly app: AppResource;
  readonly instance: DatabaseInstance;
  /** The catalog registration that creates the database; also waited for. */
  readonly catalog: DatabaseDatabaseCatalog;
  /** The app schema and who may use it. */
  readonly grants: Pick<EnvironmentConfig["database"], "schema" | "appAccess" | "readOnlyRoles">;
  /** Bounds on the runner's waits. */
  readonly limits: EnvironmentConfig["postApply"];
  /**
   * The workspace the provider was pointed at; the runner is pointed at the same one.
   * @default - the runner resolves the workspace from the inherited environment, as the provider does
   */
  readonly workspace?: EnvironmentConfig["workspace"];
  /** @default - `app-src/migrations/` of this repository */
  readonly migrationsDir?: string;
  /** The environment's YAML file, relative to the repository: the runner names it in errors about what it configured. */
  readonly configFile: string;
}

/**
 * The post-apply step: after the instance, the database and the app exist, a `local-exec` runs the runner,
 * which applies migrations as the deploying identity and grants the app's service principal its access.
 *
 * It runs again only when its inputs change (`triggers_replace`: migration and grant hashes, the service
 * principal, the database coordinates). Its command and environment carry names and hashes only: the
 * runner takes credentials (DATABRICKS_*) from the environment of the process running Terraform, so none
 * reach the state, the plan or a process argument list.
 */
export class PostApply extends Construct {
  readonly resource: TerraformData;
  /** sha256 of the migration files (see `migrationsSha256`). */
  readonly migrationsSha256: string;

  constructor(scope: Construct, id: string, props: PostApplyProps) {
    super(scope, id);
    const { app, instance, catalog, grants, limits, workspace = {}, migrationsDir = MIGRATIONS_DIR } = props;
    const readOnlyRoles = [...grants.readOnlyRoles].sort();
    this.migrationsSha256 = oncePerApp(this, `migrations ${migrationsDir}`, () => migrationsSha256(migrationsDir));

    this.resource = new TerraformData(this, "Resource", {
      triggersReplace: {
        migrations_sha256: this.migrationsSha256,
        grants_sha256: createHash("sha256")
          .update(JSON.stringify({ schema: grants.schema, appAccess: grants.appAccess, readOnlyRoles }))
          .digest("hex"),
        app_sp_client_id: app.servicePrincipalClientId,
        instance_name: instance.name,
        database_name: catalog.databaseName,
        schema: grants.schema,
      },
      dependsOn: [app, catalog, instance],
      provisioners: [
        {
          type: "local-exec",
          command: POST_APPLY_COMMAND,
          workingDir: relativeToStackDirectory(this, REPO_ROOT),
          environment: {
            POST_APPLY_INSTANCE: instance.name,
            POST_APPLY_DATABASE: catalog.databaseName,
            POST_APPLY_SCHEMA: grants.schema,
            POST_APPLY_APP_SP_CLIENT_ID: app.servicePrincipalClientId,
            POST_APPLY_MIGRATIONS_DIR: terraformLiteral(relative(REPO_ROOT, migrationsDir).split(sep).join("/")),
            POST_APPLY_APP_ACCESS: grants.appAccess,
            POST_APPLY_READ_ONLY_ROLES: readOnlyRoles.join(","),
            POST_APPLY_CONFIG_FILE: props.configFile,
            POST_APPLY_INSTANCE_TIMEOUT_SECONDS: String(limits.instanceReadyTimeoutSeconds),
            POST_APPLY_LOCK_TIMEOUT_SECONDS: String(limits.lockTimeoutSeconds),
            POST_APPLY_STATEMENT_LOCK_TIMEOUT_SECONDS: String(limits.statementLockTimeoutSeconds),
            POST_APPLY_STATEMENT_TIMEOUT_SECONDS: String(limits.statementTimeoutSeconds),
            // Not credentials: which workspace (and ~/.databrickscfg profile) the YAML chose for the provider.
            ...(workspace.host && { DATABRICKS_HOST: workspace.host }),
            ...(workspace.profile && { DATABRICKS_CONFIG_PROFILE: workspace.profile }),
          },
        },
      ],
    });
  }
}
