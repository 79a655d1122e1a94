import { type NagRule, NagRuleCompliance } from "../nag-rule";

const VARIABLE_REFERENCE = /^\$\{var\.[A-Za-z_][A-Za-z0-9_-]*\}$/;

/** A secret's `string_value` is a Terraform variable reference, never a literal written into the output. */
export const NoInlineSecretValue: NagRule = {
  id: "DBX-NoInlineSecretValue",
  message:
    "databricks_secret.string_value must be a variable reference (${var.<name>}), not a value in the synthesized output",
  check: ({ type, attributes }) => {
    if (type !== "databricks_secret") return NagRuleCompliance.NOT_APPLICABLE;
    const value = attributes.string_value;
    return typeof value === "string" && VARIABLE_REFERENCE.test(value)
      ? NagRuleCompliance.COMPLIANT
      : NagRuleCompliance.NON_COMPLIANT;
  },
};
