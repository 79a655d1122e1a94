import type { Construct } from "constructs";
import {
  anyToHclTerraform,
  anyToTerraform,
  hashMapper,
  hashMapperHcl,
  type TerraformMetaArguments,
  TerraformResource,
} from "./cdktf";

export interface TerraformDataConfig extends TerraformMetaArguments {
  /** Stored in state; a change is an in-place update (which `replace_triggered_by` reacts to). @default - none */
  readonly input?: Record<string, unknown>;
  /** Stored in state; a change replaces the resource (re-running its provisioners). @default - none */
  readonly triggersReplace?: Record<string, unknown>;
}

/**
 * Terraform's built-in `terraform_data` resource. Not cdktf's `DataResource`: that one runs `terraform version`
 * during synthesis for each instance (a ">= 1.4" check), which costs a process per resource and fails
 * synthesis on machines without a terraform binary, and synthesis must need neither.
 */
export class TerraformData extends TerraformResource {
  private readonly input?: Record<string, unknown>;
  private readonly triggersReplace?: Record<string, unknown>;

  constructor(scope: Construct, id: string, config: TerraformDataConfig) {
    const { input, triggersReplace, ...meta } = config;
    super(scope, id, {
      ...meta,
      terraformResourceType: "terraform_data",
      terraformGeneratorMetadata: { providerName: "terraform" },
    });
    this.input = input;
    this.triggersReplace = triggersReplace;
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return {
      input: hashMapper(anyToTerraform)(this.input),
      triggers_replace: hashMapper(anyToTerraform)(this.triggersReplace),
    };
  }

  protected override synthesizeHclAttributes(): Record<string, unknown> {
    return {
      input: hashMapperHcl(anyToHclTerraform)(this.input),
      triggers_replace: hashMapperHcl(anyToHclTerraform)(this.triggersReplace),
    };
  }
}
