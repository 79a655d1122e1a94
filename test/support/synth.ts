/**
 * Synthesis helpers for unit tests: build a valid environment from a base fixture plus overrides,
 * synthesize an AppStack (or a single construct) and look at the resulting Terraform JSON.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Construct } from "constructs";
import { AppStack, type AppStackProps } from "../../stacks/app-stack";
import { Testing } from "../../stacks/cdktf";
import { deepMerge } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { type EnvironmentConfig, environmentSchema } from "../../stacks/config/schema";
import { errorAnnotations } from "../../stacks/guardrails/nag-pack";

/**
 * Text Terraform would evaluate, or fail on, if it reached the JSON unescaped: a file read, a directive, a
 * broken directive and a secret variable's value.
 */
export const TEMPLATE_PAYLOADS = [
  '${file("/etc/passwd")}',
  "%{if true}x%{endif}",
  "100%{",
  "${var.secret_session_signing_key}",
] as const;

/** A small app source tree with migrations; tests never depend on what app-src/ holds today. */
export const FIXTURE_SOURCE_DIR = join(REPO_ROOT, "test", "fixtures", "app-src");

/** The environment every test starts from (as written in YAML, before defaults), named `test`. */
export const baseFixture = {
  app: {
    name: "notes-test",
    secrets: [{ resourceName: "api-key", key: "api-key" }],
  },
  lakebase: { instanceName: "notes-test", tags: { project: "notes" } },
  database: { name: "notes", catalog: "notes_test" },
  secrets: { scope: "notes-test", keys: ["api-key"] },
  servingEndpoints: [{ resourceName: "llm", name: "llm-endpoint" }],
  permissions: {
    app: [{ group: "notes-developers", level: "CAN_MANAGE" }],
    instance: [{ group: "notes-developers", level: "CAN_USE" }],
  },
};

/**
 * A validated environment: `overrides` deep-merged over the base fixture the way environment files merge
 * over common.yaml (mappings by key, lists replace); a `null` removes the key.
 */
export function environment(overrides: object = {}, name = "test"): EnvironmentConfig {
  return {
    ...environmentSchema.parse(withoutNulls(deepMerge(baseFixture, overrides))),
    name,
    file: `environments/${name}.yaml`,
  };
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

/** Attributes of one resource (or output, variable...) as written to cdk.tf.json. */
export type Attributes = Record<string, any>;

export interface TerraformJson {
  /** cdktf's metadata, and what the guardrails recorded (accepted findings). */
  "//"?: Attributes;
  resource?: Record<string, Record<string, Attributes>>;
  output?: Record<string, Attributes>;
  variable?: Record<string, Attributes>;
  provider?: Record<string, Attributes[]>;
  terraform?: Attributes;
}

export interface SynthesizedStack {
  readonly stack: AppStack;
  readonly json: TerraformJson;
  /** Guardrail violations (error annotations) found while synthesizing. */
  readonly violations: readonly string[];
}

/**
 * Synthesizes an AppStack for `config` (default: the base fixture) with the fixture app source, in an app
 * whose output directory is this repository's `cdktf.out`, so relative paths are the real ones.
 * `extend` may add to the stack before synthesis (e.g. a raw resource a guardrail must catch); `props` are
 * the stack's other properties.
 */
export function synthStack(
  config: EnvironmentConfig = environment(),
  extend?: (stack: AppStack) => void,
  props: Pick<AppStackProps, "state"> = {},
): SynthesizedStack {
  const app = Testing.app({ outdir: join(REPO_ROOT, "cdktf.out") });
  const stack = new AppStack(app, config.name, { config, sourceDir: FIXTURE_SOURCE_DIR, ...props });
  extend?.(stack);
  const json = JSON.parse(Testing.synth(stack)) as TerraformJson;
  return { stack, json, violations: errorAnnotations(stack) };
}

/** `Testing.synthScope`, parsed: for one construct in an otherwise empty stack. */
export function synthConstruct(build: (scope: Construct) => void): TerraformJson {
  return JSON.parse(Testing.synthScope(build)) as TerraformJson;
}

/** The resources of one type, by logical id (empty when there are none). */
export function resources(json: TerraformJson, type: string): Record<string, Attributes> {
  return json.resource?.[type] ?? {};
}

/** The one resource of `type`; fails listing what there is when there is not exactly one. */
export function onlyResource(json: TerraformJson, type: string): Attributes {
  const found = Object.values(resources(json, type));
  assert.equal(
    found.length,
    1,
    `expected exactly one ${type}, found ${found.length}:\n${JSON.stringify(json.resource ?? {}, null, 2)}`,
  );
  return found[0];
}

/** Asserts that some resource of `type` satisfies `predicate`; on failure prints the actual ones. */
export function assertHasResource(
  json: TerraformJson,
  type: string,
  what: string,
  predicate: (r: Attributes) => boolean,
): Attributes {
  const found = Object.values(resources(json, type)).find(predicate);
  assert.ok(
    found,
    `expected a ${type} ${what}; the ${type} resources are:\n${JSON.stringify(resources(json, type), null, 2)}`,
  );
  return found;
}

/** `"${type.<logical id>}"`-style address of the one resource of `type`, as depends_on lists it. */
export function addressOf(json: TerraformJson, type: string): string {
  const ids = Object.keys(resources(json, type));
  assert.equal(ids.length, 1, `expected exactly one ${type}, found ${ids.join(", ") || "none"}`);
  return `${type}.${ids[0]}`;
}
