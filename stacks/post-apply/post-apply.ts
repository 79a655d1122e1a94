import { createHash } from "node:crypto";
import { Construct } from "constructs";
import type { App as AppResource } from "@cdktf/provider-databricks/lib/app";
import type { DatabaseDatabaseCatalog } from "@cdktf/provider-databricks/lib/database-database-catalog";
import type { DatabaseInstance } from "@cdktf/provider-databricks/lib/database-instance";
import { TerraformData } from "../terraform-data";
import type { EnvironmentConfig } from "../config/schema";
import { relativeToStackDirectory } from "../stack-paths";
import { migrationsSha256 } from "./migrations";
import { oncePerApp } from "../once-per-app";
import { MIGRATIONS_DIR, REPO_ROOT } from "../repo-paths";
import { applyStepEnvironment, POST_APPLY_COMMAND } from "../../tools/lib/post-apply-inputs";

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
    const { app, instance, catalog, grants, limits, workspace, migrationsDir = MIGRATIONS_DIR } = props;
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
          environment: applyStepEnvironment(
            {
              instance: instance.name,
              database: catalog.databaseName,
              schema: grants.schema,
              appRole: app.servicePrincipalClientId,
              migrationsDir,
              appAccess: grants.appAccess,
              readOnlyRoles,
              configFile: props.configFile,
              instanceTimeoutSeconds: limits.instanceReadyTimeoutSeconds,
              lockTimeoutSeconds: limits.lockTimeoutSeconds,
              statementLockTimeoutSeconds: limits.statementLockTimeoutSeconds,
              statementTimeoutSeconds: limits.statementTimeoutSeconds,
            },
            workspace,
          ),
        },
      ],
    });
  }
}
