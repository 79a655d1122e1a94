import { DATA_RESOURCE_TYPES } from "../../stateful-resources";
import { type NagRule, NagRuleCompliance } from "../nag-rule";

/** In production, Lakebase instances and database catalogs (the data) have `lifecycle.prevent_destroy`. */
export const ProductionPreventDestroy: NagRule = {
  id: "DBX-ProductionPreventDestroy",
  message:
    "production Lakebase instances and catalogs must set lifecycle.prevent_destroy, or one plan can delete the data",
  check: ({ type, attributes }, environment) => {
    if (!environment.production || !DATA_RESOURCE_TYPES.has(type)) return NagRuleCompliance.NOT_APPLICABLE;
    const lifecycle = attributes.lifecycle as { prevent_destroy?: unknown } | undefined;
    return lifecycle?.prevent_destroy === true ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
  },
};
