/**
 * An offline plan: what Terraform would do to go from the base configuration to the head one, assuming the
 * state matches the base (no credentials, no state, no drift). Read from the two synthesized `cdk.tf.json`.
 */
import { posix, relative, join } from "node:path";
import { compareStrings } from "../../stacks/content-hash";
import { literalText } from "../../stacks/config/terraform-literal";
import {
  type Action,
  type AttributeChange,
  KNOWN_AFTER_APPLY,
  labelOf as label,
  SENSITIVE,
  topAttribute,
} from "../lib/terraform-plan";
import { mapStrings } from "./map-strings";
import { REPLACING_ATTRIBUTES } from "./replacement";
import type { StackJson } from "./trees";

export { type Action, type AttributeChange, KNOWN_AFTER_APPLY, SENSITIVE };
export const ACTIONS: readonly Action[] = ["create", "update", "replace", "destroy"];

export interface ResourceChange {
  /** Terraform address, e.g. `databricks_app.app_735A5B53` or `databricks_workspace_file.source_files_D67F5CA8["app.yaml"]` */
  readonly address: string;
  readonly type: string;
  /** The resource's name, path or key as configured (for people, next to the address). */
  readonly label: string;
  readonly action: Action;
  /** Why a replacement or destroy happens. */
  readonly reason?: string;
  readonly changes: readonly AttributeChange[];
}

/** One resource instance's configuration: arguments only, references to literal arguments resolved. */
export interface Instance {
  readonly type: string;
  readonly config: Record<string, unknown>;
  readonly replaceTriggeredBy: readonly string[];
}

/** Meta-arguments and synth metadata: not attributes Terraform diffs. */
const META = new Set(["//", "depends_on", "lifecycle", "provisioner", "for_each", "count", "provider", "connection"]);
const REFERENCE = /\$\{([a-z0-9_]+\.[A-Za-z0-9_-]+(?:\["[^"\]]*"\])?)\.([a-z0-9_]+)\}/g;

/**
 * The stack's resource instances by address: `for_each` over a literal map expanded, paths relative to the
 * stack directory rewritten relative to the repository (`<repo>/…`, so trees synthesized in different places
 * compare equal), sensitive values masked, `${type.name.attr}` replaced by the attribute's literal value
 * where the configuration sets one, and literal strings unescaped (as Terraform evaluates them).
 */
export function instances(stack: StackJson | undefined, repoRelative: string): Map<string, Instance> {
  const sensitiveVariables = Object.entries(stack?.variable ?? {})
    .filter(([, v]) => v.sensitive)
    .map(([name]) => `\${var.${name}}`);
  const mask = (value: unknown, type: string, key: string): unknown => {
    if (type === "databricks_secret" && key === "string_value") return SENSITIVE;
    return mapStrings(value, (s) =>
      sensitiveVariables.some((v) => s.includes(v))
        ? SENSITIVE
        : s.startsWith(`${repoRelative}/`)
          ? `<repo>${s.slice(repoRelative.length)}`
          : s,
    );
  };
  const result = new Map<string, Instance>();
  for (const [type, byName] of Object.entries(stack?.resource ?? {})) {
    for (const [name, block] of Object.entries(byName)) {
      const config = Object.fromEntries(
        Object.entries(block)
          .filter(([key]) => !META.has(key))
          .map(([key, value]) => [key, mask(value, type, key)]),
      );
      const lifecycle = (block.lifecycle ?? {}) as { replace_triggered_by?: string[] };
      const instance = { type, replaceTriggeredBy: lifecycle.replace_triggered_by ?? [] };
      const forEach = block.for_each;
      if (forEach && typeof forEach === "object" && !Array.isArray(forEach)) {
        for (const [key, value] of Object.entries(forEach)) {
          const each = (s: string) =>
            s
              .replaceAll("${each.key}", key)
              .replace(/\$\{each\.value\.([a-z0-9_]+)\}/g, (_, attr: string) =>
                String((value as Record<string, unknown>)[attr]),
              );
          const expanded = mapStrings(config, each) as Record<string, unknown>;
          result.set(`${type}.${name}[${JSON.stringify(key)}]`, {
            ...instance,
            config: mask(expanded, type, "") as Record<string, unknown>,
          });
        }
      } else {
        result.set(`${type}.${name}`, { ...instance, config });
      }
    }
  }
  resolveReferences(result);
  // A literal string as Terraform evaluates it (`$${` is the text `${`), as a saved plan shows it; a string
  // that interpolates or has a directive stays as written.
  for (const [address, instance] of result) {
    const config = mapStrings(instance.config, (s) => literalText(s) ?? s) as Record<string, unknown>;
    result.set(address, { ...instance, config });
  }
  return result;
}

/** `path` relative to the directory Terraform runs `environment`'s stack in, as synthesized paths are written. */
export function repoRelativeToStack(outDir: string, environment: string, root: string): string {
  return relative(join(outDir, "stacks", environment), root)
    .split(/[\\/]/)
    .join(posix.sep);
}

/** Replaces references to literal (primitive, reference-free) arguments with their values, until none is left. */
function resolveReferences(all: Map<string, Instance>): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const [address, instance] of all) {
      const config = mapStrings(instance.config, (s) =>
        s.replace(REFERENCE, (whole, target: string, attr: string) => {
          const value = all.get(target)?.config[attr];
          return ["string", "number", "boolean"].includes(typeof value) && !String(value).includes("${")
            ? String(value)
            : whole;
        }),
      ) as Record<string, unknown>;
      if (JSON.stringify(config) !== JSON.stringify(instance.config)) {
        all.set(address, { ...instance, config });
        changed = true;
      }
    }
  }
}

/** Leaf values by path: `a.b`, `a[0].c`. */
function flatten(value: unknown, path = "", out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(value)) for (const [i, v] of value.entries()) flatten(v, `${path}[${i}]`, out);
  else if (value && typeof value === "object")
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  else if (value !== undefined && value !== null) out.set(path, value);
  return out;
}

function attributeChanges(before: Record<string, unknown>, after: Record<string, unknown>): AttributeChange[] {
  const a = flatten(before);
  const b = flatten(after);
  return [...new Set([...a.keys(), ...b.keys()])]
    .filter((path) => a.get(path) !== b.get(path))
    .sort()
    .map((path) => ({ path, before: a.get(path), after: b.get(path) }));
}

/**
 * The changes from `base` to `head`, one per instance that changes, in address order. A reference to an
 * attribute only known after apply (the service principal of a replaced app) changes where it is used; a
 * planned change of a resource in a `replace_triggered_by` replaces the resources naming it.
 */
export function offlinePlan(base: Map<string, Instance>, head: Map<string, Instance>): ResourceChange[] {
  const changes = new Map<string, ResourceChange>();
  for (const address of new Set([...base.keys(), ...head.keys()])) {
    const before = base.get(address);
    const after = head.get(address);
    if (!before && after)
      changes.set(address, {
        address,
        type: after.type,
        label: label(after.config),
        action: "create",
        changes: attributeChanges({}, after.config),
      });
    else if (before && !after)
      changes.set(address, {
        address,
        type: before.type,
        label: label(before.config),
        action: "destroy",
        reason: "removed from the configuration",
        changes: [],
      });
  }
  // Replacements propagate through references and triggers: repeat until nothing new is planned.
  for (let changed = true; changed; ) {
    changed = false;
    for (const [address, after] of head) {
      const before = base.get(address);
      if (!before) continue;
      const planned = new Set([...changes.values()].filter((c) => c.action !== "destroy").map((c) => c.address));
      const unknown = (s: string) =>
        s.replace(REFERENCE, (whole, target: string) =>
          planned.has(target) && changes.get(target)?.action !== "update" ? KNOWN_AFTER_APPLY : whole,
        );
      const diff = attributeChanges(before.config, mapStrings(after.config, unknown) as Record<string, unknown>);
      const forcing = [
        ...new Set(
          diff.map((c) => c.path).filter((path) => REPLACING_ATTRIBUTES[after.type]?.includes(topAttribute(path))),
        ),
      ];
      const triggerAddress = after.replaceTriggeredBy.find((t) => planned.has(t));
      const trigger = triggerAddress === undefined ? undefined : changes.get(triggerAddress);
      const common = { address, type: after.type, label: label(after.config), changes: diff };
      const next: ResourceChange | undefined = trigger
        ? { ...common, action: "replace", reason: triggerReason(trigger) }
        : forcing.length
          ? {
              ...common,
              action: "replace",
              reason: `${forceReplacement(forcing)} (${after.type === "terraform_data" ? "terraform_data triggers_replace" : "provider: RequiresReplace/ForceNew"})`,
            }
          : diff.length
            ? { ...common, action: "update" }
            : undefined;
      if (next && JSON.stringify(next) !== JSON.stringify(changes.get(address))) {
        changes.set(address, next);
        changed = true;
      }
    }
  }
  return [...changes.values()].sort((a, b) => compareStrings(a.address, b.address));
}

/** "name changes force replacement (replace_triggered_by terraform_data.x)": the trigger's changed inputs. */
function triggerReason(trigger: ResourceChange): string {
  const inputs = [
    ...new Set(trigger.changes.map((c) => topAttribute(c.path.replace(/^(input|triggers_replace)\./, "")))),
  ];
  return `${inputs.length ? forceReplacement(inputs) : `its ${trigger.action} forces replacement`} (replace_triggered_by ${trigger.address})`;
}

/** "name changes force replacement", "name, key change force replacement" */
function forceReplacement(attributes: readonly string[]): string {
  return `${attributes.join(", ")} ${attributes.length > 1 ? "change" : "changes"} force replacement`;
}
