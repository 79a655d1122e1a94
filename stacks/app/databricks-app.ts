import { Construct } from "constructs";
import { type AppResources, App as AppResource } from "@cdktf/provider-databricks/lib/app";
import type { ITerraformDependable } from "../cdktf";
import type { EnvironmentConfig } from "../config/schema";

type AppConfig = EnvironmentConfig["app"];

/** The Lakebase database the app connects to (PGHOST, PGDATABASE, PGUSER... are injected from it). */
export interface AppDatabaseBinding {
  /** The resource key app.yaml refers to. */
  readonly resourceName: string;
  readonly instanceName: string;
  readonly databaseName: string;
}

export interface DatabricksAppProps {
  /** Lowercase letters, digits and hyphens; changing it replaces the app (the provider marks it RequiresReplace). */
  readonly name: string;
  /** @default "" - sent even when empty: the Apps API returns "" for none, and an omitted value would diff forever */
  readonly description?: string;
  /** @default "MEDIUM" - sent explicitly, so the plan shows the size instead of a server-chosen value */
  readonly computeSize?: AppConfig["computeSize"];
  /** On-behalf-of-user API scopes. @default - none: the app acts only as its service principal */
  readonly userApiScopes?: readonly string[];
  /** @default - no database binding */
  readonly database?: AppDatabaseBinding;
  /** Secrets the app may read, keys of `secretScope`. @default - none */
  readonly secrets?: AppConfig["secrets"];
  /** The scope the `secrets` belong to. @default - none; required when `secrets` is not empty */
  readonly secretScope?: string;
  /** Existing serving endpoints (the guardrails decide whether CAN_MANAGE is acceptable). @default - none */
  readonly servingEndpoints?: EnvironmentConfig["servingEndpoints"];
  /** @default - none */
  readonly sqlWarehouses?: AppConfig["sqlWarehouses"];
  /** @default - none */
  readonly jobs?: AppConfig["jobs"];
  /** What must exist before the app is created or updated, beyond what it references. @default - nothing else */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/**
 * A Databricks App and its resource bindings. The resource does not deploy code: it creates the app, its
 * service principal and its compute; code is deployed after apply from the uploaded source.
 */
export class DatabricksApp extends Construct {
  readonly resource: AppResource;

  constructor(scope: Construct, id: string, props: DatabricksAppProps) {
    super(scope, id);
    const {
      database,
      secrets = [],
      secretScope,
      servingEndpoints = [],
      sqlWarehouses = [],
      jobs = [],
      userApiScopes = [],
    } = props;
    if (secrets.length && secretScope === undefined) {
      throw new Error(
        `app "${props.name}": secret bindings (${secrets.map((s) => s.key).join(", ")}) need a secretScope, found none`,
      );
    }

    const resources: AppResources[] = [
      ...(database
        ? [
            {
              name: database.resourceName,
              database: {
                instanceName: database.instanceName,
                databaseName: database.databaseName,
                permission: "CAN_CONNECT_AND_CREATE",
              },
            },
          ]
        : []),
      ...(secretScope === undefined
        ? []
        : secrets.map((s) => ({
            name: s.resourceName,
            secret: { scope: secretScope, key: s.key, permission: s.permission },
          }))),
      ...servingEndpoints.map((e) => ({
        name: e.resourceName,
        servingEndpoint: { name: e.name, permission: e.permission },
      })),
      ...sqlWarehouses.map((w) => ({ name: w.resourceName, sqlWarehouse: { id: w.id, permission: w.permission } })),
      ...jobs.map((j) => ({ name: j.resourceName, job: { id: j.id, permission: j.permission } })),
    ];

    this.resource = new AppResource(this, "Resource", {
      name: props.name,
      description: props.description ?? "",
      computeSize: props.computeSize ?? "MEDIUM",
      // Empty lists are left out, not sent as []: the API answers null for them, and provider 1.99 then fails
      // the apply with "inconsistent result" (TFP #5204 for resources).
      userApiScopes: userApiScopes.length ? [...userApiScopes] : undefined,
      resources: resources.length ? resources : undefined,
      dependsOn: props.dependsOn && [...props.dependsOn],
    });
  }
}
