import { isExpression, type NagRule, NagRuleCompliance } from "../nag-rule";

/** The attribute that names each workspace- or metastore-wide object, where environments could collide. */
const NAME_ATTRIBUTE: Readonly<Record<string, string>> = {
  databricks_app: "name",
  databricks_database_instance: "name",
  databricks_database_database_catalog: "name",
  databricks_secret_scope: "name",
  databricks_directory: "path",
};

/**
 * Shared-namespace names (app, instance, catalog, secret scope, source directory) contain the environment
 * name as a whole word (between separators), so environments cannot overwrite each other.
 */
export const EnvironmentInName: NagRule = {
  id: "DBX-EnvironmentInName",
  message: "names of apps, instances, catalogs, secret scopes and source directories must contain the environment name as a word",
  check: ({ type, attributes }, environment) => {
    const attribute = NAME_ATTRIBUTE[type];
    const value = attribute && attributes[attribute];
    if (typeof value !== "string" || isExpression(value)) return NagRuleCompliance.NOT_APPLICABLE;
    // Separators differ by namespace (catalogs take `_`, apps `-`, paths `/`): compare word sequences.
    const words = (s: string) => `-${s.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-`;
    return words(value).includes(words(environment.name)) ? NagRuleCompliance.COMPLIANT : [`${attribute}=${value}`];
  },
};
