import type { IConstruct } from "constructs";
import {
  AnnotationMetadataEntryType,
  Annotations,
  DefaultTokenResolver,
  type IAspect,
  StringConcat,
  TerraformResource,
  TerraformStack,
  Tokenization,
} from "../cdktf";
import { type NagEnvironment, type NagRule, NagRuleCompliance, type NagRuleResult, type SynthesizedResource } from "./nag-rule";
import { EnvironmentInName } from "./rules/environment-in-name";
import { NoInlineSecretValue } from "./rules/no-inline-secret-value";
import { ProductionPreventDestroy } from "./rules/production-prevent-destroy";
import { ServingEndpointLeastPrivilege } from "./rules/serving-endpoint-least-privilege";

export const RULES: readonly NagRule[] = [ProductionPreventDestroy, NoInlineSecretValue, ServingEndpointLeastPrivilege, EnvironmentInName];

/** An accepted finding of a granular rule, with the reason it is accepted (reviewers read it). */
export interface NagSuppression {
  /** The rule's id. */
  readonly id: string;
  /** The finding it excuses (rules that report whole-resource non-compliance cannot be suppressed). */
  readonly appliesTo: string;
  readonly reason: string;
}

const SUPPRESSION_METADATA = "databricks-nag:suppression";

/** Records a suppression on the resource construct the rule evaluates. */
export function addNagSuppression(resource: TerraformResource, suppression: NagSuppression): void {
  if (!suppression.reason.trim()) throw new Error(`suppression of ${suppression.id} for ${suppression.appliesTo}: expected a reason, found ${JSON.stringify(suppression.reason)}`);
  resource.node.addMetadata(SUPPRESSION_METADATA, suppression);
}

export function nagSuppressions(resource: IConstruct): NagSuppression[] {
  return resource.node.metadata.filter((m) => m.type === SUPPRESSION_METADATA).map((m) => m.data as NagSuppression);
}

/**
 * The guardrails, as an Aspect (add it to a stack): every rule is checked against every resource, and each
 * violation becomes an error annotation `<rule id>: <construct path>: <message>`, which stops synthesis.
 */
export class DatabricksNagPack implements IAspect {
  constructor(private readonly environment: NagEnvironment) {}

  visit(node: IConstruct): void {
    if (!TerraformResource.isTerraformResource(node)) return;
    const resource = synthesized(node);
    const suppressions = nagSuppressions(node);
    for (const rule of RULES) {
      for (const problem of problems(rule, rule.check(resource, this.environment), suppressions)) {
        Annotations.of(node).addError(`${rule.id}: ${node.node.path}: ${problem}`);
      }
    }
  }
}

function problems(rule: NagRule, result: NagRuleResult, suppressions: readonly NagSuppression[]): string[] {
  if (result === NagRuleCompliance.COMPLIANT || result === NagRuleCompliance.NOT_APPLICABLE) return [];
  if (result === NagRuleCompliance.NON_COMPLIANT) return [rule.message];
  const open = result.filter((finding) => !suppressions.some((s) => s.id === rule.id && s.appliesTo === finding));
  return open.length ? [`${rule.message} (found: ${open.join(", ")})`] : [];
}

const RESOLVER = new DefaultTokenResolver(new StringConcat());

/**
 * The resource as it will appear in `cdk.tf.json`, tokens resolved (the way the stack resolves them) when a
 * rule first reads an attribute. Every rule looks at the type first, and most resources (workspace files, the
 * post-apply steps) are of types no rule checks: resolving them anyway was a quarter of synth.
 */
export function synthesized(resource: TerraformResource): SynthesizedResource {
  return {
    type: resource.terraformResourceType,
    attributes: lazy(() => {
      const json = Tokenization.resolve(resource.toTerraform(), { scope: TerraformStack.of(resource), preparing: false, resolver: RESOLVER }) as { resource: Record<string, Record<string, Record<string, unknown>>> };
      const { "//": _metadata, ...attributes } = json.resource[resource.terraformResourceType][resource.friendlyUniqueId];
      return attributes;
    }),
  };
}

/** An object that is `make()`, made on the first read of any of its properties (rules destructure it unread). */
function lazy<T extends object>(make: () => T): T {
  let made: T | undefined;
  const target = () => (made ??= make());
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(target(), key),
  });
}

/** Every error annotation under `scope` (the guardrail violations, when synthesis stopped on them). */
export function errorAnnotations(scope: IConstruct): string[] {
  return scope.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === AnnotationMetadataEntryType.ERROR).map((m) => String(m.data)));
}

/** Synthesis stopped by guardrail violations: one line each, no stack trace needed. */
export class GuardrailError extends Error {
  constructor(readonly violations: readonly string[]) {
    super(`guardrail violations (${violations.length}):\n${violations.map((v) => `  ${v}`).join("\n")}`);
    this.name = "GuardrailError";
  }
}
