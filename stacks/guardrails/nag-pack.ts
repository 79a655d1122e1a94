import type { IConstruct } from "constructs";
import {
  AnnotationMetadataEntryType,
  Annotations,
  DefaultTokenResolver,
  type IAspect,
  StringConcat,
  TerraformBackend,
  type TerraformElement,
  TerraformResource,
  TerraformStack,
  Tokenization,
} from "../cdktf";
import {
  BACKEND,
  type NagEnvironment,
  type NagRule,
  NagRuleCompliance,
  type RecordedSuppression,
  SUPPRESSIONS_KEY,
  type SynthesizedResource,
} from "./nag-rule";
import { EnvironmentInName } from "./rules/environment-in-name";
import { NoInlineSecretValue } from "./rules/no-inline-secret-value";
import { ProductionPreventDestroy } from "./rules/production-prevent-destroy";
import { UserError } from "../../tools/lib/user-error";
import { ProductionRemoteState } from "./rules/production-remote-state";
import { ServingEndpointLeastPrivilege } from "./rules/serving-endpoint-least-privilege";

export const RULES: readonly NagRule[] = [
  ProductionPreventDestroy,
  ProductionRemoteState,
  NoInlineSecretValue,
  ServingEndpointLeastPrivilege,
  EnvironmentInName,
];

/** An accepted finding of a granular rule, with the reason it is accepted (reviewers read it). */
export interface NagSuppression {
  /** The rule's id. */
  readonly id: string;
  /** The finding it excuses (rules that report whole-resource non-compliance cannot be suppressed). */
  readonly appliesTo: string;
  readonly reason: string;
}

const SUPPRESSION_METADATA = "databricks-nag:suppression";

/** Records a suppression on the resource (or backend) construct the rule evaluates. */
export function addNagSuppression(element: TerraformElement, suppression: NagSuppression): void {
  if (!suppression.reason.trim())
    throw new Error(
      `suppression of ${suppression.id} for ${suppression.appliesTo}: expected a reason, found ${JSON.stringify(suppression.reason)}`,
    );
  element.node.addMetadata(SUPPRESSION_METADATA, suppression);
}

export function nagSuppressions(resource: IConstruct): NagSuppression[] {
  return resource.node.metadata.filter((m) => m.type === SUPPRESSION_METADATA).map((m) => m.data as NagSuppression);
}

/**
 * The guardrails, as an Aspect (add it to a stack): every rule is checked against every resource and the
 * backend, and each violation becomes an error annotation `<rule id>: <construct path>: <message>`, which
 * stops synthesis. Findings a suppression accepts are recorded in the stack's top-level comment for reviewers.
 */
export class DatabricksNagPack implements IAspect {
  private readonly accepted = new Map<string, RecordedSuppression>();

  constructor(private readonly environment: NagEnvironment) {}

  visit(node: IConstruct): void {
    const element = TerraformResource.isTerraformResource(node)
      ? synthesized(node)
      : TerraformBackend.isBackend(node)
        ? synthesizedBackend(node)
        : undefined;
    if (!element) return;
    const suppressions = nagSuppressions(node);
    for (const rule of RULES) {
      const result = rule.check(element, this.environment);
      const message = typeof rule.message === "string" ? rule.message : rule.message(this.environment);
      if (result === NagRuleCompliance.NON_COMPLIANT) {
        Annotations.of(node).addError(`${rule.id}: ${node.node.path}: ${message}`);
      } else if (Array.isArray(result)) {
        const open = result.filter((finding) => !this.accept(node, rule, finding, suppressions));
        if (open.length)
          Annotations.of(node).addError(`${rule.id}: ${node.node.path}: ${message} (found: ${open.join(", ")})`);
      }
    }
  }

  /** Whether a suppression accepts `finding`; if so it is recorded in the synthesized stack. */
  private accept(node: IConstruct, rule: NagRule, finding: string, suppressions: readonly NagSuppression[]): boolean {
    const suppression = suppressions.find((s) => s.id === rule.id && s.appliesTo === finding);
    if (!suppression) return false;
    const record: RecordedSuppression = {
      rule: rule.id,
      path: node.node.path,
      appliesTo: finding,
      reason: suppression.reason,
    };
    this.accepted.set(JSON.stringify(record), record);
    TerraformStack.of(node).addOverride(`//.${SUPPRESSIONS_KEY}`, [...this.accepted.values()]);
    return true;
  }
}

const RESOLVER = new DefaultTokenResolver(new StringConcat());

/**
 * The resource as it will appear in `cdk.tf.json`, tokens resolved (the way the stack resolves them) when a
 * rule reads them, one attribute at a time: every rule looks at the type first and then at one attribute, and
 * most resources (workspace files, the post-apply steps) are of types no rule checks. Resolving whole
 * resources anyway was a quarter of synth. Listing the attributes resolves them all.
 */
export function synthesized(resource: TerraformResource): SynthesizedResource {
  const type = resource.terraformResourceType;
  const resolve = (value: unknown) =>
    Tokenization.resolve(value, { scope: TerraformStack.of(resource), preparing: false, resolver: RESOLVER });
  let unresolved: Record<string, unknown> | undefined;
  const config = () => {
    if (!unresolved) {
      const json = resource.toTerraform() as { resource: Record<string, Record<string, Record<string, unknown>>> };
      const { "//": _metadata, ...attributes } = json.resource[type][resource.friendlyUniqueId];
      unresolved = attributes;
    }
    return unresolved;
  };
  const resolved = new Map<string, unknown>();
  const attribute = (key: string) => {
    if (!resolved.has(key)) resolved.set(key, resolve(config()[key]));
    return resolved.get(key);
  };
  let all: Record<string, unknown> | undefined;
  const whole = () => (all ??= resolve(config()) as Record<string, unknown>);
  return {
    type,
    attributes: new Proxy({} as Record<string, unknown>, {
      // What an ordinary object has besides its own keys (toString, ...) is looked up as usual.
      get: (_, key) =>
        typeof key === "string" && Object.hasOwn(config(), key) ? attribute(key) : Reflect.get(Object.prototype, key),
      has: (_, key) => Reflect.has(whole(), key),
      ownKeys: () => Reflect.ownKeys(whole()),
      getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(whole(), key),
    }),
  };
}

/** The backend block as rules see it: type BACKEND, its `terraform.backend` block as attributes, comments left out. */
function synthesizedBackend(backend: TerraformBackend): SynthesizedResource {
  const json = Tokenization.resolve(backend.toTerraform(), {
    scope: TerraformStack.of(backend),
    preparing: false,
    resolver: RESOLVER,
  }) as { terraform: { backend: Record<string, Record<string, unknown>> } };
  const attributes = Object.fromEntries(
    Object.entries(json.terraform.backend).map(([kind, { "//": _comment, ...settings }]) => [kind, settings]),
  );
  return { type: BACKEND, attributes };
}

/** Every error annotation under `scope` (the guardrail violations, when synthesis stopped on them). */
export function errorAnnotations(scope: IConstruct): string[] {
  return scope.node
    .findAll()
    .flatMap((c) =>
      c.node.metadata.filter((m) => m.type === AnnotationMetadataEntryType.ERROR).map((m) => String(m.data)),
    );
}

/** Synthesis stopped by guardrail violations: one line each, no stack trace needed. */
export class GuardrailError extends UserError {
  constructor(readonly violations: readonly string[]) {
    super(`guardrail violations (${violations.length}):\n${violations.map((v) => `  ${v}`).join("\n")}`);
    this.name = "GuardrailError";
  }
}
