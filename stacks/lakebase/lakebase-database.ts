import { Construct } from "constructs";
import { DatabaseDatabaseCatalog } from "@cdktf/provider-databricks/lib/database-database-catalog";
import { DatabaseInstance } from "@cdktf/provider-databricks/lib/database-instance";
import type { TerraformResource } from "../cdktf";
import { TerraformData } from "../terraform-data";
import type { EnvironmentConfig } from "../config/schema";
import { compareStrings } from "../content-hash";

export interface LakebaseDatabaseProps {
  /** The instance: name, capacity, node count, retention window, tags and whether it is stopped. */
  readonly instance: EnvironmentConfig["lakebase"];
  /** The Postgres database, created by the catalog registration when it does not exist yet. */
  readonly databaseName: string;
  /** The Unity Catalog catalog the database is registered as. */
  readonly catalogName: string;
  /**
   * Refuse to destroy (or replace) the instance and the catalog: both hold the data.
   * @default false - both can be destroyed, and are replaced when their names change
   */
  readonly preventDestroy?: boolean;
}

/**
 * A Lakebase (managed PostgreSQL) instance and one database on it, registered as a Unity Catalog catalog
 * (`create_database_if_not_exists`, the only declarative way to create the Postgres database in provider 1.99).
 *
 * Neither resource can really be updated in place where it matters, yet the provider plans updates:
 * renaming the instance plans a PATCH to an instance that does not exist, and the catalog API has no
 * update at all (501). So each carries its immutable inputs in a `terraform_data` and is replaced when
 * they change (`replace_triggered_by`): the plan shows the replacement instead of an apply-time failure.
 */
export class LakebaseDatabase extends Construct {
  readonly instance: DatabaseInstance;
  readonly catalog: DatabaseDatabaseCatalog;

  constructor(scope: Construct, id: string, props: LakebaseDatabaseProps) {
    super(scope, id);
    const { instance, databaseName, catalogName, preventDestroy = false } = props;

    const instanceName = new TerraformData(this, "instance-name", { input: { name: instance.instanceName } });
    this.instance = new DatabaseInstance(this, "instance", {
      name: instance.instanceName,
      capacity: instance.capacity,
      nodeCount: instance.nodeCount,
      retentionWindowInDays: instance.retentionWindowInDays,
      // Sorted: the attribute is a list, and YAML key order must not show up as a diff.
      customTags: Object.entries(instance.tags)
        .sort(([a], [b]) => compareStrings(a, b))
        .map(([key, value]) => ({ key, value })),
      stopped: instance.stopped,
      lifecycle: { preventDestroy, replaceTriggeredBy: [address(instanceName)] },
    });

    const catalogInputs = {
      name: catalogName,
      databaseName,
      databaseInstanceName: this.instance.name,
      createDatabaseIfNotExists: true,
    };
    const catalogTrigger = new TerraformData(this, "catalog-inputs", { input: catalogInputs });
    this.catalog = new DatabaseDatabaseCatalog(this, "catalog", {
      ...catalogInputs,
      lifecycle: { preventDestroy, replaceTriggeredBy: [address(catalogTrigger)] },
    });
  }
}

/**
 * `type.name`: what Terraform's JSON syntax accepts in `replace_triggered_by` (cdktf renders a resource
 * passed there as `${type.name}`, which Terraform rejects: "Expected the start of an expression").
 */
function address(resource: TerraformResource): string {
  return `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;
}
