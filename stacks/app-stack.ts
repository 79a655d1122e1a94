import { join } from "node:path";
import type { Construct } from "constructs";
import { DatabricksProvider } from "@cdktf/provider-databricks/lib/provider";
import { Aspects, TerraformOutput, TerraformStack } from "./cdktf";
import { sourcePath } from "./config/cross-checks";
import type { EnvironmentConfig } from "./config/schema";
import { terraformLiterals } from "./config/terraform-literal";
import { DatabricksApp } from "./app/databricks-app";
import { addNagSuppression, DatabricksNagPack } from "./guardrails/nag-pack";
import { ProductionRemoteState } from "./guardrails/rules/production-remote-state";
import { ServingEndpointLeastPrivilege } from "./guardrails/rules/serving-endpoint-least-privilege";
import { LakebaseDatabase } from "./lakebase/lakebase-database";
import { ObjectPermissions } from "./permissions/object-permissions";
import { PostApply } from "./post-apply/post-apply";
import { AppRelease } from "./release/app-release";
import { AppSecrets } from "./secrets/app-secrets";
import { AppSource } from "./source/app-source";
import { addStateBackend, localStateReason, type StateLocation } from "./state/state-backend";

export interface AppStackProps {
  readonly config: EnvironmentConfig;
  /** The app's source, with its migrations in `migrations/`. @default - `app-src/` of this repository */
  readonly sourceDir?: string;
  /** Where local state goes on this machine. @default - `terraform-state/` of this repository, configured backends as they are */
  readonly state?: StateLocation;
}

/**
 * One environment: the Lakebase database, the app's secrets, the app with its bindings and permissions,
 * its uploaded source, and the post-apply step (migrations and grants), checked by the guardrails.
 * The stack is named after the environment (`cdktf plan dev`).
 */
export class AppStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id);
    // The one entry of configuration into the constructs: every value as text Terraform will not evaluate.
    const config = terraformLiterals(props.config);
    const { sourceDir } = props;

    new DatabricksProvider(this, "databricks", { host: config.workspace.host, profile: config.workspace.profile });
    // The exception: Terraform reads the backend block literally (no templates there), so it gets the values as written.
    const backend = addStateBackend(this, {
      environment: props.config.name,
      config: props.config.backend,
      location: props.state,
    });
    // Local state in production is an accepted finding only with a reason, decided here with the config.
    const localState = props.config.production && localStateReason(props.config.backend, props.state);
    if (localState)
      addNagSuppression(backend, { id: ProductionRemoteState.id, appliesTo: "local", reason: localState });

    const lakebase = new LakebaseDatabase(this, "lakebase", {
      instance: config.lakebase,
      databaseName: config.database.name,
      catalogName: config.database.catalog,
      preventDestroy: config.production,
    });

    const secrets = config.secrets && new AppSecrets(this, "secrets", config.secrets);

    const app = new DatabricksApp(this, "app", {
      name: config.app.name,
      description: config.app.description,
      computeSize: config.app.computeSize,
      userApiScopes: config.app.userApiScopes,
      secrets: config.app.secrets,
      sqlWarehouses: config.app.sqlWarehouses,
      jobs: config.app.jobs,
      database: {
        resourceName: config.app.databaseResourceName,
        instanceName: lakebase.instance.name,
        databaseName: lakebase.catalog.databaseName,
      },
      secretScope: secrets?.scope.name,
      servingEndpoints: config.servingEndpoints,
      // The binding needs the database to exist, which the catalog creates; secrets must exist to be bound.
      dependsOn: [lakebase.catalog, ...(secrets?.secrets ?? [])],
    });
    // A CAN_MANAGE endpoint binding with a written reason is an accepted finding, decided here with the config.
    for (const endpoint of config.servingEndpoints) {
      if (endpoint.permission === "CAN_MANAGE" && endpoint.reason !== undefined) {
        addNagSuppression(app.resource, {
          id: ServingEndpointLeastPrivilege.id,
          appliesTo: endpoint.resourceName,
          reason: endpoint.reason,
        });
      }
    }

    if (config.permissions.app.length) {
      new ObjectPermissions(this, "app-permissions", {
        object: { appName: app.resource.name },
        grants: config.permissions.app,
      });
    }
    if (config.permissions.instance.length) {
      new ObjectPermissions(this, "instance-permissions", {
        object: { databaseInstanceName: lakebase.instance.name },
        grants: config.permissions.instance,
      });
    }

    // The settings as written: they become app.yaml's content (hashed, uploaded), not Terraform text.
    const source = new AppSource(this, "source", {
      workspacePath: sourcePath(config),
      sourceDir,
      env: props.config.app.env,
    });

    const postApply = new PostApply(this, "post-apply", {
      app: app.resource,
      instance: lakebase.instance,
      catalog: lakebase.catalog,
      grants: config.database,
      limits: config.postApply,
      workspace: config.workspace,
      migrationsDir: sourceDir && join(sourceDir, "migrations"),
      configFile: config.file,
    });

    new AppRelease(this, "release", {
      app: app.resource,
      source,
      env: config.app.env,
      runs: {
        migrations: postApply.migrationsSha256,
        // The app's settings and bindings as configured (the description is not something the app runs).
        app: {
          ...config.app,
          description: undefined,
          database: [config.lakebase.instanceName, config.database.name],
          servingEndpoints: config.servingEndpoints,
        },
      },
      timeoutSeconds: config.postApply.releaseTimeoutSeconds,
      after: [postApply.resource],
      workspace: config.workspace,
    });

    new TerraformOutput(this, "app_url", { value: app.resource.url, description: "The app's URL" });
    new TerraformOutput(this, "app_service_principal_client_id", {
      value: app.resource.servicePrincipalClientId,
      description: "The app service principal's application id (its Postgres role name)",
    });
    new TerraformOutput(this, "instance_read_write_dns", {
      value: lakebase.instance.readWriteDns,
      description: "Host name of the Lakebase instance's primary",
    });
    new TerraformOutput(this, "database_name", {
      value: lakebase.catalog.databaseName,
      description: "The app's Postgres database",
    });
    new TerraformOutput(this, "source_code_path", {
      value: source.sourceCodePath,
      description: "Workspace path app deployments take the code from",
    });

    Aspects.of(this).add(
      new DatabricksNagPack({ name: config.name, production: config.production, file: config.file }),
    );
  }

  /**
   * cdktf prepares a stack by resolving all of it once more, only to find references to other stacks. An
   * environment never references another (each one plans and deploys alone), so that pass would find nothing;
   * it was a third of the time synth spends per stack. What remains of it: the default (local) backend.
   */
  override prepareStack(): void {
    this.ensureBackendExists();
  }
}
