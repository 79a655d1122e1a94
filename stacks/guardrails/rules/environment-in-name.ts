import { literalText } from "../../config/terraform-literal";
import { type NagRule, NagRuleCompliance, unresolvable } from "../nag-rule";

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
 * name as a whole word (between separators), so environments cannot overwrite each other. The rule reads the
 * text Terraform will use (escapes undone); a name only Terraform can work out (an expression) cannot be
 * checked, and is a finding rather than a pass.
 */
export const EnvironmentInName: NagRule = {
  id: "DBX-EnvironmentInName",
  message:
    "names of apps, instances, catalogs, secret scopes and source directories must contain the environment name as a word",
  check: ({ type, attributes }, environment) => {
    const attribute = NAME_ATTRIBUTE[type];
    if (!attribute) return NagRuleCompliance.NOT_APPLICABLE;
    const value = attributes[attribute];
    const text = typeof value === "string" ? literalText(value) : undefined;
    if (text === undefined) return [unresolvable(attribute, value)];
    // Separators differ by namespace (catalogs take `_`, apps `-`, paths `/`): compare word sequences.
    const words = (s: string) => `-${s.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-`;
    return words(text).includes(words(environment.name)) ? NagRuleCompliance.COMPLIANT : [`${attribute}=${text}`];
  },
};
