/**
 * What the provider cannot change in place, per resource type: a change to one of these top-level attributes
 * plans a replacement (RequiresReplace in Plugin Framework resources, ForceNew in SDKv2 ones). Source:
 * databricks-facts.md §1 (provider 1.99.0). Replacements the stack forces itself (`replace_triggered_by` a
 * `terraform_data`: the instance name, the catalog fields) are read from the synthesized lifecycle instead.
 */
export const REPLACING_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  // Only the parent reference; a rename is forced by the stack (replace_triggered_by).
  databricks_database_instance: ["parent_instance_ref"],
  // None: the API has no update at all (501); the stack forces replacement of every field.
  databricks_database_database_catalog: [],
  databricks_app: ["name"],
  // SDKv2 without Update: every non-computed field is ForceNew.
  databricks_secret_scope: ["name", "initial_manage_principal", "keyvault_metadata"],
  databricks_secret: ["scope", "key", "string_value"],
  databricks_secret_acl: ["scope", "principal", "permission"],
  // The object field (exactly one is set) is ForceNew; access_control updates in place.
  databricks_permissions: [
    "app_name",
    "database_instance_name",
    "serving_endpoint_id",
    "directory_path",
    "directory_id",
    "workspace_file_path",
    "workspace_file_id",
  ],
  databricks_workspace_file: ["path"],
  databricks_directory: ["path"],
  databricks_model_serving: ["name", "route_optimized"],
  // Terraform's built-in resource: `input` updates in place, `triggers_replace` replaces.
  terraform_data: ["triggers_replace"],
};
