/**
 * The Lakebase instance fields Terraform cannot see drift in: `node_count`, `retention_window_in_days`,
 * `stopped` and `custom_tags` are input-only (the API never returns them; the provider keeps its planned
 * value), so an out-of-band change only shows in the `effective_*` values GET returns.
 */
import type { EnvironmentConfig } from "../../stacks/config/schema";
import type { DatabaseInstance } from "../lib/workspace";
import type { Finding } from "./findings";

export function instanceFindings(config: EnvironmentConfig, instance: DatabaseInstance | undefined): Finding[] {
  const { name, lakebase } = config;
  if (!instance) {
    return [
      {
        check: "instance",
        class: "out-of-band",
        object: `Lakebase instance "${lakebase.instanceName}"`,
        expected: "exists",
        found: "not found (HTTP 404)",
        severity: "high",
        remediation: `npx cdktf deploy ${name} recreates it (its data is gone unless restored), or remove the environment`,
      },
    ];
  }
  const fields: { field: keyof EnvironmentConfig["lakebase"]; api: string; expected: string; found: string }[] = [
    {
      field: "nodeCount",
      api: "node_count",
      expected: String(lakebase.nodeCount),
      found: String(instance.effective_node_count),
    },
    {
      field: "retentionWindowInDays",
      api: "retention_window_in_days",
      expected: String(lakebase.retentionWindowInDays),
      found: String(instance.effective_retention_window_in_days),
    },
    {
      field: "stopped",
      api: "stopped",
      expected: String(lakebase.stopped),
      found: String(instance.effective_stopped ?? false),
    },
    {
      field: "tags",
      api: "custom_tags",
      expected: formatTags(Object.entries(lakebase.tags)),
      found: formatTags((instance.effective_custom_tags ?? []).map((t) => [t.key ?? "", t.value ?? ""])),
    },
  ];
  return fields
    .filter((f) => f.expected !== f.found)
    .map(
      (f): Finding => ({
        check: "instance",
        class: "out-of-band",
        object: `Lakebase instance "${lakebase.instanceName}" ${f.api} (lakebase.${f.field})`,
        expected: f.expected,
        found: f.found,
        severity: "medium",
        remediation:
          `Terraform cannot see this change: restore it with PATCH /api/2.0/database/instances/${lakebase.instanceName}?update_mask=${f.api}, ` +
          `or accept it by setting lakebase.${f.field} to ${f.found} in environments/${name}.yaml and deploying`,
      }),
    );
}

/** Tags as `key=value` pairs sorted by key, so order never counts as drift. */
function formatTags(tags: [string, string][]): string {
  return tags.length
    ? tags
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")
    : "(none)";
}
