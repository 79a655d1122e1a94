import { literalText } from "../../config/terraform-literal";
import { type NagRule, NagRuleCompliance, unresolvable } from "../nag-rule";

interface AppResource {
  readonly name: string;
  readonly serving_endpoint?: { readonly permission?: unknown };
}

/**
 * An app's serving endpoint bindings are not CAN_MANAGE; one finding per binding (its resource key), which a
 * suppression carrying the YAML's `reason` can excuse. A permission (or a list of bindings) only Terraform
 * can work out is a finding of its own: it may be CAN_MANAGE.
 */
export const ServingEndpointLeastPrivilege: NagRule = {
  id: "DBX-ServingEndpointLeastPrivilege",
  message:
    "serving endpoint bindings should be CAN_QUERY (or CAN_VIEW); give CAN_MANAGE a reason in the environment YAML",
  check: ({ type, attributes }) => {
    if (type !== "databricks_app") return NagRuleCompliance.NOT_APPLICABLE;
    const resources = attributes.resources ?? [];
    if (!Array.isArray(resources)) return [unresolvable("resources", resources)];
    const findings = (resources as AppResource[]).flatMap((r) => {
      if (!r.serving_endpoint) return [];
      const { permission } = r.serving_endpoint;
      const text = typeof permission === "string" ? literalText(permission) : undefined;
      if (text === undefined) return [unresolvable(`${r.name}.permission`, permission)];
      return text === "CAN_MANAGE" ? [r.name] : [];
    });
    return findings.length ? findings : NagRuleCompliance.COMPLIANT;
  },
};
