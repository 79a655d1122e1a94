/**
 * Terraform's JSON plan (`terraform show -json <planfile>`, format 1.x) as the drift and review tools read
 * it: resource changes and drift, each with its attribute-level differences, sensitive values masked and
 * values known only after apply marked. A plan's JSON holds secret values in clear (variables, sensitive
 * attributes): nothing here returns one unmasked.
 */

import { MASK } from "./secret-masker";

/** How a masked or not-yet-known value is shown: Terraform's sensitive values read as the secret masker's. */
export const SENSITIVE = MASK;
export const KNOWN_AFTER_APPLY = "(known after apply)";

export interface PlanJson {
  readonly format_version: string;
  readonly terraform_version?: string;
  /** True when planning failed part-way (the saved plan holds what was found before). */
  readonly errored?: boolean;
  readonly variables?: Readonly<Record<string, { readonly value?: unknown }>>;
  readonly resource_changes?: readonly ResourceChangeJson[];
  readonly resource_drift?: readonly ResourceChangeJson[];
  readonly prior_state?: {
    readonly values?: { readonly root_module?: { readonly resources?: readonly StateResource[] } };
  };
  readonly configuration?: {
    readonly root_module?: {
      readonly resources?: readonly {
        readonly address: string;
        readonly expressions?: Readonly<Record<string, unknown>>;
      }[];
      readonly variables?: Readonly<Record<string, { readonly sensitive?: boolean }>>;
    };
  };
}

export interface ResourceChangeJson {
  readonly address: string;
  readonly mode: string;
  readonly type: string;
  readonly name: string;
  /** Terraform's reason for the action, e.g. `replace_because_cannot_update`, `replace_by_triggers`. */
  readonly action_reason?: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly before: unknown;
    readonly after: unknown;
    readonly after_unknown?: unknown;
    readonly before_sensitive?: unknown;
    readonly after_sensitive?: unknown;
    /** The attribute paths that force a replacement. */
    readonly replace_paths?: readonly (readonly (string | number)[])[];
  };
}

/** A resource instance in the state the plan started from (refreshed). */
export interface StateResource {
  readonly address: string;
  readonly type: string;
  readonly values?: Readonly<Record<string, unknown>>;
}

export type Action = "create" | "update" | "replace" | "destroy";

/** The plan action of a change; undefined for no-op and read. `forget` (a `removed` block) leaves the object as it is. */
export function actionOf(actions: readonly string[]): Action | undefined {
  const key = actions.join("+");
  if (key === "create") return "create";
  if (key === "update") return "update";
  if (key === "delete+create" || key === "create+delete") return "replace";
  if (key === "delete") return "destroy";
  return undefined;
}

export interface AttributeChange {
  /** e.g. `description`, `triggers_replace.app_sp_client_id`, `access_control[1]` */
  readonly path: string;
  /** Masked: SENSITIVE for sensitive values; undefined when absent. */
  readonly before?: unknown;
  /** Masked: SENSITIVE for sensitive values, KNOWN_AFTER_APPLY for unknown ones; undefined when absent. */
  readonly after?: unknown;
}

/** The resources in the state the plan started from (none: the environment was never applied with this state). */
export function priorResources(plan: PlanJson): readonly StateResource[] {
  return plan.prior_state?.values?.root_module?.resources ?? [];
}

/**
 * The top-level attributes the configuration sets, by resource address (instance keys ignored). Drift in
 * any other attribute is the platform's own bookkeeping (status, timestamps, ids) and never planned back.
 */
export function configuredAttributes(plan: PlanJson): (address: string) => ReadonlySet<string> {
  const byResource = new Map(
    (plan.configuration?.root_module?.resources ?? []).map((r) => [
      r.address,
      new Set(Object.keys(r.expressions ?? {})),
    ]),
  );
  return (address) => byResource.get(resourceAddress(address)) ?? new Set();
}

/** `type.name` of an instance address: `a.b["k"]` → `a.b`. */
export function resourceAddress(address: string): string {
  return address.replace(/\[[^\]]*\]$/, "");
}

/**
 * Values that must never be shown: every variable the configuration marks sensitive, as the plan holds it.
 * A saved plan carries them in clear, so whoever renders it masks them wherever they turn up.
 */
export function sensitiveVariableValues(plan: PlanJson): string[] {
  const declared = plan.configuration?.root_module?.variables ?? {};
  return Object.entries(plan.variables ?? {})
    .filter(([name, v]) => declared[name]?.sensitive && typeof v.value === "string" && v.value !== "")
    .map(([, v]) => v.value as string);
}

/**
 * The attributes that differ between `before` and `after`, leaf by leaf, limited to the top-level attributes
 * in `only` when given. Lists of objects (blocks such as `access_control`, which Terraform often keeps as
 * sets) are compared element by element regardless of order: an element only before is removed, one only
 * after is added. Values are masked where either side marks them sensitive, even when they differ.
 */
export function attributeChanges(change: ResourceChangeJson["change"], only?: ReadonlySet<string>): AttributeChange[] {
  const out: AttributeChange[] = [];
  const side = (value: unknown, sensitive: unknown, unknown?: unknown) => ({
    value: nullToUndefined(value),
    sensitive,
    unknown,
  });
  diff(
    side(change.before, change.before_sensitive),
    side(change.after, change.after_sensitive, change.after_unknown),
    "",
    out,
  );
  return only ? out.filter((c) => only.has(topAttribute(c.path))) : out;
}

/** A whole value, masked the same way (for a created or deleted object's attributes). */
export function maskedValue(value: unknown, sensitive: unknown, unknown?: unknown): unknown {
  if (sensitive === true) return SENSITIVE;
  if (unknown === true) return KNOWN_AFTER_APPLY;
  if (Array.isArray(value)) return value.map((v, i) => maskedValue(v, at(sensitive, i), at(unknown, i)));
  if (isObject(value) || isObject(unknown)) {
    const keys = new Set([
      ...Object.keys(isObject(value) ? value : {}),
      ...Object.keys(isObject(unknown) ? unknown : {}),
    ]);
    return Object.fromEntries(
      [...keys].flatMap((k) => {
        const v = maskedValue(
          nullToUndefined((value as Record<string, unknown> | undefined)?.[k]),
          at(sensitive, k),
          at(unknown, k),
        );
        return v === undefined ? [] : [[k, v]];
      }),
    );
  }
  return nullToUndefined(value);
}

export const topAttribute = (path: string): string => path.split(/[.[]/)[0];

interface Side {
  readonly value: unknown;
  readonly sensitive: unknown;
  readonly unknown?: unknown;
}

function diff(before: Side, after: Side, path: string, out: AttributeChange[]): void {
  const masked = (s: Side) => maskedValue(s.value, s.sensitive, s.unknown);
  if (after.unknown === true || before.sensitive === true || after.sensitive === true) {
    if (after.unknown === true || JSON.stringify(before.value) !== JSON.stringify(after.value))
      out.push({ path, before: masked(before), after: masked(after) });
    return;
  }
  const [b, a] = [before.value, after.value];
  const objectLike = (v: unknown) => v === undefined || isObject(v);
  if ((isObject(b) || isObject(a) || isObject(after.unknown)) && objectLike(b) && objectLike(a)) {
    const keys = new Set([b, a, after.unknown].flatMap((v) => (isObject(v) ? Object.keys(v) : [])));
    for (const key of [...keys].sort()) diff(child(before, key), child(after, key), path ? `${path}.${key}` : key, out);
    return;
  }
  const listLike = (v: unknown) => v === undefined || Array.isArray(v);
  if (listLike(b) && listLike(a) && [...((b as unknown[]) ?? []), ...((a as unknown[]) ?? [])].some(isObject)) {
    diffElements(before, after, path, out);
    return;
  }
  if (JSON.stringify(b) !== JSON.stringify(a)) out.push({ path, before: masked(before), after: masked(after) });
}

/**
 * Elements compared as a multiset of their values: removed ones at their index before, added ones at theirs
 * after. Empty strings count as unset, as SDKv2 providers write unset block fields as "".
 */
function diffElements(before: Side, after: Side, path: string, out: AttributeChange[]): void {
  const list = (s: Side) =>
    ((s.value as unknown[] | undefined) ?? []).map((value, i) => ({
      key: JSON.stringify(compact(value)),
      element: child(s, i),
      i,
    }));
  const left = list(before);
  const unmatched = list(after);
  const removed = left.filter(({ key }) => {
    const match = unmatched.findIndex((r) => r.key === key);
    if (match < 0) return true;
    unmatched.splice(match, 1);
    return false;
  });
  const shown = ({ value, sensitive, unknown }: Side) => compact(maskedValue(value, sensitive, unknown));
  for (const { element, i } of removed) out.push({ path: `${path}[${i}]`, before: shown(element) });
  for (const { element, i } of unmatched) out.push({ path: `${path}[${i}]`, after: shown(element) });
}

/** `value` without the object fields that are unset ("" or null). */
function compact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(compact);
  if (isObject(value))
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== "" && v !== null)
        .map(([k, v]) => [k, compact(v)]),
    );
  return value;
}

function child(side: Side, key: string | number): Side {
  return {
    value: nullToUndefined(at(side.value, key)),
    sensitive: at(side.sensitive, key),
    unknown: at(side.unknown, key),
  };
}

function at(value: unknown, key: string | number): unknown {
  return value !== null && typeof value === "object" ? (value as Record<string | number, unknown>)[key] : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Terraform writes an unset attribute as null; here it is absent. */
function nullToUndefined(value: unknown): unknown {
  return value === null ? undefined : value;
}

/** The name, path or key a resource is known by (for people, next to its address). */
export function labelOf(values: unknown): string {
  const v = isObject(values) ? values : {};
  const label = v.name ?? v.path ?? v.key ?? v.app_name ?? v.database_instance_name ?? "";
  return typeof label === "string" ? label : "";
}

/**
 * Terraform's own reason for a replacement, in words, with the attributes that force it. For
 * `replace_triggered_by` (which the plan does not say the target of) the `terraform_data` among `others`
 * whose changing input is what changes here is named: the stack forces replacements through such inputs.
 */
export function replacementReason(change: ResourceChangeJson, others: readonly ResourceChangeJson[] = []): string {
  const paths = (change.change.replace_paths ?? []).map((p) => p.join(".")).filter(Boolean);
  const forcing = paths.length ? `: ${paths.join(", ")}` : "";
  switch (change.action_reason) {
    case "replace_because_tainted":
      return "tainted: its last create or provisioner failed";
    case "replace_because_cannot_update":
      return `the provider cannot change it in place${forcing}`;
    case "replace_by_triggers":
      return `replace_triggered_by${triggerOf(change, others)}`;
    case "replace_by_request":
      return "-replace was requested";
    default:
      return change.action_reason ? `${change.action_reason}${forcing}` : `replacement${forcing}`;
  }
}

/**
 * ` terraform_data.x (input.name: a → b)`: the one of `others` that changes an input to a value this change
 * takes on, preferring an input named like the attribute (`input.databaseInstanceName` ~ `database_instance_name`).
 */
function triggerOf(change: ResourceChangeJson, others: readonly ResourceChangeJson[]): string {
  const leaf = (path: string) => (path.split(".").at(-1) ?? "").replace(/_/g, "").toLowerCase();
  const own = attributeChanges(change.change).map((c) => ({ name: leaf(c.path), value: JSON.stringify(c.after) }));
  let best: { score: number; text: string } | undefined;
  for (const other of others) {
    if (other.type !== "terraform_data" || other.address === change.address || !actionOf(other.change.actions))
      continue;
    for (const input of attributeChanges(other.change).filter((c) => c.path.startsWith("input"))) {
      const same = own.filter((o) => o.value === JSON.stringify(input.after));
      const score = same.some((o) => o.name === leaf(input.path)) ? 2 : same.length ? 1 : 0;
      if (score > (best?.score ?? 0))
        best = { score, text: ` ${other.address} (${input.path}: ${shown(input.before)} → ${shown(input.after)})` };
    }
  }
  return best?.text ?? " (a resource its lifecycle names changes)";
}

function shown(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
