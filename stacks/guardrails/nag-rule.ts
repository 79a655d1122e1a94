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

/**
 * The finding for a value only Terraform can work out (an expression): a rule cannot check it, so it is a
 * finding (reported, or accepted by a suppression with a reason), never a pass.
 */
export function unresolvable(attribute: string, value: unknown): string {
  return `${attribute}=${JSON.stringify(value)} (a Terraform expression: cannot be checked)`;
}

/**
 * A resource as Terraform receives it: its type and its resolved attributes (snake_case, with `lifecycle`).
 * The stack's backend is presented the same way, as type BACKEND with the `terraform.backend` block as its
 * attributes (`{ s3: { bucket, ... } }`).
 */
export interface SynthesizedResource {
  readonly type: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** The type rules see the stack's backend block as. */
export const BACKEND = "terraform.backend";

/** What rules know about the stack a resource is in. */
export interface NagEnvironment {
  readonly name: string;
  readonly production: boolean;
  /** The environment's YAML file, where a fix goes. */
  readonly file: string;
}

export interface NagRule {
  /** Stable: error messages and suppressions refer to it. */
  readonly id: string;
  /** What a violation breaks and how to fix it, in one line; a function when the fix names the environment's file. */
  readonly message: string | ((environment: NagEnvironment) => string);
  readonly check: (resource: SynthesizedResource, environment: NagEnvironment) => NagRuleResult;
}

/**
 * An accepted finding as the synthesized stack records it, in its top-level comment (`"//"`) under
 * SUPPRESSIONS_KEY, for reviewers: the review tool reads it from `cdk.tf.json`.
 */
export interface RecordedSuppression {
  readonly rule: string;
  /** The construct path of the resource (or backend) the finding is on. */
  readonly path: string;
  readonly appliesTo: string;
  readonly reason: string;
}

export const SUPPRESSIONS_KEY = "guardrailSuppressions";
