import { type NagRule, NagRuleCompliance } from "../nag-rule";

interface AppResource {
  readonly name: string;
  readonly serving_endpoint?: { readonly permission?: string };
}

/**
 * An app's serving endpoint bindings are not CAN_MANAGE; one finding per binding (its resource key), which a
 * suppression carrying the YAML's `reason` can excuse.
 */
export const ServingEndpointLeastPrivilege: NagRule = {
  id: "DBX-ServingEndpointLeastPrivilege",
  message:
    "serving endpoint bindings should be CAN_QUERY (or CAN_VIEW); give CAN_MANAGE a reason in the environment YAML",
  check: ({ type, attributes }) => {
    if (type !== "databricks_app") return NagRuleCompliance.NOT_APPLICABLE;
    const managed = ((attributes.resources ?? []) as AppResource[]).filter(
      (r) => r.serving_endpoint?.permission === "CAN_MANAGE",
    );
    return managed.length ? managed.map((r) => r.name) : NagRuleCompliance.COMPLIANT;
  },
};
