/**
 * The shape of a guardrail rule, after cdk-nag: a pure function over one synthesized resource.
 * Rules live one per file in `rules/`; the pack (`nag-pack.ts`) applies them to every resource of a stack.
 */

export enum NagRuleCompliance {
  COMPLIANT = "COMPLIANT",
  NON_COMPLIANT = "NON_COMPLIANT",
  NOT_APPLICABLE = "NOT_APPLICABLE",
}

/**
 * Non-compliance in parts: one finding id per offending part (e.g. an app binding's resource key), so a
 * suppression can name exactly the part it excuses and the others still fail.
 */
export type NagRuleFindings = readonly string[];

export type NagRuleResult = NagRuleCompliance | NagRuleFindings;

/** A resource as Terraform receives it: its type and its resolved attributes (snake_case, with `lifecycle`). */
export interface SynthesizedResource {
  readonly type: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** What rules know about the stack a resource is in. */
export interface NagEnvironment {
  readonly name: string;
  readonly production: boolean;
}

export interface NagRule {
  /** Stable: error messages and suppressions refer to it. */
  readonly id: string;
  /** What a violation breaks and how to fix it, in one line. */
  readonly message: string;
  readonly check: (resource: SynthesizedResource, environment: NagEnvironment) => NagRuleResult;
}
