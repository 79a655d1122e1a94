import { Construct } from "constructs";
import { Secret } from "@cdktf/provider-databricks/lib/secret";
import { SecretScope } from "@cdktf/provider-databricks/lib/secret-scope";
import { TerraformVariable } from "../cdktf";
import { RESERVED_SECRET_KEYS, secretVariableName } from "../config/secret-variable";

export interface AppSecretsProps {
  /** The secret scope: one per app, because app secret bindings grant access to the whole scope. */
  readonly scope: string;
  /** The secret keys. Each value comes from the sensitive variable `secretVariableName(key)`. */
  readonly keys: readonly string[];
}

/**
 * A secret scope and its secrets. Values never pass through synthesis: each secret's `string_value` is a
 * reference to a sensitive Terraform variable without a default, set as `TF_VAR_<name>` by whoever runs
 * Terraform (a developer's shell, CI's secret store).
 */
export class AppSecrets extends Construct {
  readonly scope: SecretScope;
  readonly secrets: readonly Secret[];

  constructor(scope: Construct, id: string, props: AppSecretsProps) {
    super(scope, id);
    if (props.keys.length === 0)
      throw new Error(`secret scope "${props.scope}": expected at least one key, found none`);
    const reserved = props.keys.filter((key) => RESERVED_SECRET_KEYS.has(key));
    if (reserved.length)
      throw new Error(
        `secret scope "${props.scope}": expected keys other than ${[...RESERVED_SECRET_KEYS].join(", ")}, found ${reserved.join(", ")}`,
      );

    this.scope = new SecretScope(this, "scope", { name: props.scope });
    this.secrets = props.keys.map((key) => {
      const name = secretVariableName(key);
      // ":" cannot occur in a key, so this id never meets a secret's (`a-value` is a key of its own).
      const value = new TerraformVariable(this, `${key}:value`, {
        type: "string",
        sensitive: true,
        nullable: false,
        description: `Value of secret "${key}" in scope "${props.scope}"; set TF_VAR_${name}`,
      });
      // The variable's name is what users set (TF_VAR_<name>), so it is fixed rather than path-derived.
      value.overrideLogicalId(name);
      return new Secret(this, key, { scope: this.scope.name, key, stringValue: value.stringValue });
    });
  }
}
