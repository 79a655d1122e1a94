/**
 * The resource types that hold what a redeploy cannot bring back, listed once: the production guardrail
 * protects the data ones (prevent_destroy), the review banners any of them destroyed or replaced.
 */

/** The app's data: the Lakebase instance and the catalog registration that creates its database. */
export const DATA_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  "databricks_database_instance",
  "databricks_database_database_catalog",
]);

/** The data, the credentials (secret values) and the app, whose service principal is made with it. */
export const STATEFUL_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  ...DATA_RESOURCE_TYPES,
  "databricks_secret",
  "databricks_secret_scope",
  "databricks_app",
]);
