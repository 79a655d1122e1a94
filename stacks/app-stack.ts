import { join } from "node:path";
import type { Construct } from "constructs";
import { DatabricksProvider } from "@cdktf/provider-databricks/lib/provider";
import {
  Aspects,
  AzurermBackend,
  GcsBackend,
  LocalBackend,
  NamedRemoteWorkspace,
  RemoteBackend,
  S3Backend,
  TerraformOutput,
  TerraformStack,
} from "./cdktf";
import { environmentFile } from "./config/load-environments";
import type { BackendConfig, EnvironmentConfig } from "./config/schema";
import { DatabricksApp } from "./app/databricks-app";
import { DatabricksNagPack } from "./guardrails/nag-pack";
import { LakebaseDatabase } from "./lakebase/lakebase-database";
import { ObjectPermissions } from "./permissions/object-permissions";
import { PostApply } from "./post-apply/post-apply";
import { AppRelease } from "./release/app-release";
import { AppSecrets } from "./secrets/app-secrets";
import { AppSource } from "./source/app-source";

export interface AppStackProps {
  readonly config: EnvironmentConfig;
  /** The app's source, with its migrations in `migrations/`. @default - `app-src/` of this repository */
  readonly sourceDir?: string;
}

/**
 * One environment: the Lakebase database, the app's secrets, the app with its bindings and permissions,
 * its uploaded source, and the post-apply step (migrations and grants), checked by the guardrails.
 * The stack is named after the environment (`cdktf plan dev`).
 */
export class AppStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id);
    const { config, sourceDir } = props;

    new DatabricksProvider(this, "databricks", { host: config.workspace.host, profile: config.workspace.profile });
    backend(this, config.backend, config.name);

    const lakebase = new LakebaseDatabase(this, "lakebase", {
      instance: config.lakebase,
      databaseName: config.database.name,
      catalogName: config.database.catalog,
      preventDestroy: config.production,
    });

    const secrets = config.secrets && new AppSecrets(this, "secrets", config.secrets);

    const app = new DatabricksApp(this, "app", {
      // The props are named after the app section: name, description, size, scopes, secret/warehouse/job bindings.
      ...config.app,
      database: { resourceName: config.app.databaseResourceName, instanceName: lakebase.instance.name, databaseName: lakebase.catalog.databaseName },
      secretScope: secrets?.scope.name,
      servingEndpoints: config.servingEndpoints,
      // The binding needs the database to exist, which the catalog creates; secrets must exist to be bound.
      dependsOn: [lakebase.catalog, ...(secrets?.secrets ?? [])],
    });

    if (config.permissions.app.length) {
      new ObjectPermissions(this, "app-permissions", { object: { appName: app.resource.name }, grants: config.permissions.app });
    }
    if (config.permissions.instance.length) {
      new ObjectPermissions(this, "instance-permissions", { object: { databaseInstanceName: lakebase.instance.name }, grants: config.permissions.instance });
    }

    const source = new AppSource(this, "source", { workspacePath: config.app.sourcePath ?? `/Shared/apps/${config.app.name}`, sourceDir });

    const postApply = new PostApply(this, "post-apply", {
      app: app.resource,
      instance: lakebase.instance,
      catalog: lakebase.catalog,
      grants: config.database,
      limits: config.postApply,
      workspace: config.workspace,
      migrationsDir: sourceDir && join(sourceDir, "migrations"),
      configFile: environmentFile(config.name),
    });

    new AppRelease(this, "release", {
      app: app.resource,
      sourceCodePath: source.sourceCodePath,
      runs: {
        source: source.contentHash,
        migrations: postApply.migrationsSha256,
        // The app's settings and bindings as configured (the description is not something the app runs).
        app: { ...config.app, description: undefined, database: [config.lakebase.instanceName, config.database.name], servingEndpoints: config.servingEndpoints },
      },
      timeoutSeconds: config.postApply.releaseTimeoutSeconds,
      after: [source.files, postApply.resource],
      workspace: config.workspace,
    });

    new TerraformOutput(this, "app_url", { value: app.resource.url, description: "The app's URL" });
    new TerraformOutput(this, "app_service_principal_client_id", {
      value: app.resource.servicePrincipalClientId,
      description: "The app service principal's application id (its Postgres role name)",
    });
    new TerraformOutput(this, "instance_read_write_dns", { value: lakebase.instance.readWriteDns, description: "Host name of the Lakebase instance's primary" });
    new TerraformOutput(this, "database_name", { value: lakebase.catalog.databaseName, description: "The app's Postgres database" });
    new TerraformOutput(this, "source_code_path", { value: source.sourceCodePath, description: "Workspace path app deployments take the code from" });

    Aspects.of(this).add(new DatabricksNagPack({ name: config.name, production: config.production }));
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

/** Where Terraform keeps this environment's state. */
function backend(stack: TerraformStack, config: BackendConfig, environment: string): void {
  switch (config.type) {
    case "local":
      new LocalBackend(stack, { path: config.path ?? `terraform.${environment}.tfstate` });
      return;
    case "s3": {
      const { bucket, key, region, dynamodbTable } = config;
      const s3 = new S3Backend(stack, { bucket, key, region, dynamodbTable });
      // S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend has no property for it yet.
      if (!dynamodbTable) s3.addOverride("use_lockfile", true);
      return;
    }
    case "azurerm": {
      const { type: _, ...props } = config;
      new AzurermBackend(stack, props);
      return;
    }
    case "gcs": {
      const { type: _, ...props } = config;
      new GcsBackend(stack, props);
      return;
    }
    case "remote":
      new RemoteBackend(stack, { hostname: config.hostname, organization: config.organization, workspaces: new NamedRemoteWorkspace(config.workspace) });
      return;
  }
}
