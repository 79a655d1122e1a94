/**
 * A Mermaid `graph` of one environment's resources and their bindings: the app ↔ Lakebase instance (and the
 * catalog on it) ↔ secret scope (and its secrets) ↔ serving endpoints, SQL warehouses and jobs it is bound to.
 */
import type { Action, Instance } from "./offline-plan";

type Shape = "box" | "database" | "stadium";
const SHAPES: Record<Shape, [string, string]> = { box: ["[", "]"], database: ["[(", ")]"], stadium: ["([", "])"] };

/**
 * Text inside a quoted Mermaid label, shown as it is and unable to end the label, its line or the code block
 * around the graph: line breaks and other control characters as spaces; quotes, markup, backticks (Mermaid's
 * Markdown strings), `%` (its `%%{…}%%` directives, honoured anywhere in the text) and `#` as entity codes.
 */
function quoted(text: string): string {
  return `"${text.replace(/[\p{Cc}\u2028\u2029]/gu, " ").replace(/[#"<>&`%]/g, (c) => `#${c.charCodeAt(0)};`)}"`;
}

export function bindingGraph(instances: Map<string, Instance>, actions: ReadonlyMap<string, Action>): string {
  const lines = ["graph LR"];
  const ids = new Map<string, string>();
  const node = (key: string, label: string, shape: Shape, action?: Action): string => {
    let id = ids.get(key);
    if (!id) {
      id = `n${ids.size}`;
      ids.set(key, id);
      const [open, close] = SHAPES[shape];
      lines.push(`  ${id}${open}${quoted(action ? `${label} (${action})` : label)}${close}`);
      if (action) lines.push(`  class ${id} ${action}`);
    }
    return id;
  };
  const edge = (from: string, to: string, label: string) => lines.push(`  ${from} -->|${quoted(label)}| ${to}`);
  const of = (type: string) => [...instances].filter(([, i]) => i.type === type);
  const str = (value: unknown) => String(value ?? "");

  // Declared first so bindings and registrations attach to the resources of this stack.
  for (const [address, i] of of("databricks_database_instance"))
    node(`instance:${str(i.config.name)}`, `Lakebase instance ${str(i.config.name)}`, "database", actions.get(address));
  for (const [address, i] of of("databricks_secret_scope"))
    node(`scope:${str(i.config.name)}`, `secret scope ${str(i.config.name)}`, "box", actions.get(address));
  for (const [address, i] of of("databricks_database_database_catalog")) {
    const instance = node(
      `instance:${str(i.config.database_instance_name)}`,
      `Lakebase instance ${str(i.config.database_instance_name)}`,
      "database",
    );
    edge(
      node(
        address,
        `catalog ${str(i.config.name)} (database ${str(i.config.database_name)})`,
        "box",
        actions.get(address),
      ),
      instance,
      "registers",
    );
  }
  for (const [address, i] of of("databricks_secret")) {
    const scope = node(`scope:${str(i.config.scope)}`, `secret scope ${str(i.config.scope)}`, "box");
    edge(scope, node(address, `secret ${str(i.config.key)}`, "box", actions.get(address)), "holds");
  }
  for (const [address, i] of of("databricks_app")) {
    const app = node(address, `app ${str(i.config.name)}`, "stadium", actions.get(address));
    for (const binding of (i.config.resources ?? []) as Record<string, Record<string, unknown>>[]) {
      const name = str(binding.name);
      const { database, secret, serving_endpoint: endpoint, sql_warehouse: warehouse, job } = binding;
      if (database)
        edge(
          app,
          node(
            `instance:${str(database.instance_name)}`,
            `Lakebase instance ${str(database.instance_name)}`,
            "database",
          ),
          `${name}: database ${str(database.database_name)}`,
        );
      if (secret)
        edge(
          app,
          node(`scope:${str(secret.scope)}`, `secret scope ${str(secret.scope)}`, "box"),
          `${name}: ${str(secret.key)} ${str(secret.permission)}`,
        );
      if (endpoint)
        edge(
          app,
          node(`endpoint:${str(endpoint.name)}`, `serving endpoint ${str(endpoint.name)}`, "stadium"),
          `${name}: ${str(endpoint.permission)}`,
        );
      if (warehouse)
        edge(
          app,
          node(`warehouse:${str(warehouse.id)}`, `SQL warehouse ${str(warehouse.id)}`, "box"),
          `${name}: ${str(warehouse.permission)}`,
        );
      if (job) edge(app, node(`job:${str(job.id)}`, `job ${str(job.id)}`, "box"), `${name}: ${str(job.permission)}`);
    }
  }
  lines.push(
    "  classDef create stroke:#2da44e,stroke-width:2px",
    "  classDef update stroke:#bf8700,stroke-width:2px",
    "  classDef replace stroke:#cf222e,stroke-width:3px",
    "  classDef destroy stroke:#cf222e,stroke-dasharray:4",
  );
  return lines.join("\n");
}
