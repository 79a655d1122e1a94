/**
 * Rules no single field can express: references inside one environment and names that must be unique
 * across all of them (apps, instances and catalogs share one workspace / metastore namespace).
 */
import { type ConfigProblem, describe, formatPath } from "./config-error";
import type { EnvironmentConfig } from "./schema";
import { secretVariableName } from "./secret-variable";
import { APP_SOURCE_DIR } from "../repo-paths";
import { appYamlEnvNames } from "../source/app-source-files";

/** A validated environment and a way to report a problem at one of its fields (in the file that sets it). */
export interface LoadedEnvironment {
  readonly config: EnvironmentConfig;
  readonly locate: (path: readonly PropertyKey[], message: string) => ConfigProblem;
}

const UNIQUE_ACROSS_ENVIRONMENTS: { path: readonly string[]; what: string; get: (c: EnvironmentConfig) => string }[] = [
  { path: ["app", "name"], what: "app name", get: (c) => c.app.name },
  { path: ["lakebase", "instanceName"], what: "Lakebase instance name", get: (c) => c.lakebase.instanceName },
  { path: ["database", "catalog"], what: "catalog name", get: (c) => c.database.catalog },
];

/** Where the app's source is uploaded; the default is also AppStack's. */
export function sourcePath(config: EnvironmentConfig): string {
  return config.app.sourcePath ?? `/Shared/apps/${config.app.name}`;
}

export function crossEnvironmentProblems(loaded: readonly LoadedEnvironment[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const setByAppYaml = new Set(appYamlEnvNames(APP_SOURCE_DIR));
  const problem = (l: LoadedEnvironment, path: readonly PropertyKey[], message: string) =>
    problems.push(l.locate(path, message));

  // A source directory inside another environment's would upload into (and be deployed with) that one's.
  // Reported once per pair: at the inner directory, or at the later of two equal ones.
  const sourcePaths = loaded.map((l) => ({ l, path: sourcePath(l.config) }));
  sourcePaths.forEach(({ l, path }, i) => {
    const other = sourcePaths.find((o, j) => (o.path === path && j < i) || path.startsWith(`${o.path}/`));
    if (other) {
      problem(
        l,
        ["app", "sourcePath"],
        `expected a source directory apart from every other environment's, found ${describe(path)}, which overlaps ${describe(other.path)} of environment ${other.l.config.name}`,
      );
    }
  });

  for (const rule of UNIQUE_ACROSS_ENVIRONMENTS) {
    const firstOwner = new Map<string, LoadedEnvironment>();
    for (const l of loaded) {
      const value = rule.get(l.config);
      const owner = firstOwner.get(value);
      if (owner)
        problem(
          l,
          rule.path,
          `expected a ${rule.what} unique across environments, found ${describe(value)}, already used by environment ${owner.config.name}`,
        );
      else firstOwner.set(value, l);
    }
  }

  for (const l of loaded) {
    const { app, secrets, servingEndpoints } = l.config;
    const keys = secrets?.keys ?? [];
    const keySet = new Set(keys);
    app.secrets.forEach((s, i) => {
      if (!keySet.has(s.key)) {
        problem(
          l,
          ["app", "secrets", i, "key"],
          `expected a key of secret scope ${secrets ? `"${secrets.scope}" (${keys.join(", ")})` : "(none: add a secrets section)"}, found ${describe(s.key)}`,
        );
      }
    });

    for (const name of Object.keys(app.env)) {
      if (setByAppYaml.has(name))
        problem(
          l,
          ["app", "env", name],
          `expected a variable app-src/app.yaml does not set itself, found ${describe(name)}, which its env list sets already`,
        );
    }

    const variables = new Map<string, number>();
    keys.forEach((key, i) => {
      const variable = secretVariableName(key);
      const clash = variables.get(variable);
      if (clash !== undefined)
        problem(
          l,
          ["secrets", "keys", i],
          `expected keys that map to distinct Terraform variables, found ${describe(key)} and ${describe(keys[clash])} both mapping to ${variable}`,
        );
      else variables.set(variable, i);
    });

    const bindings: [readonly PropertyKey[], string][] = [
      [["app", "databaseResourceName"], app.databaseResourceName],
      ...app.secrets.map((s, i): [PropertyKey[], string] => [["app", "secrets", i, "resourceName"], s.resourceName]),
      ...servingEndpoints.map((s, i): [PropertyKey[], string] => [
        ["servingEndpoints", i, "resourceName"],
        s.resourceName,
      ]),
      ...app.sqlWarehouses.map((s, i): [PropertyKey[], string] => [
        ["app", "sqlWarehouses", i, "resourceName"],
        s.resourceName,
      ]),
      ...app.jobs.map((s, i): [PropertyKey[], string] => [["app", "jobs", i, "resourceName"], s.resourceName]),
    ];
    const seen = new Map<string, readonly PropertyKey[]>();
    for (const [path, name] of bindings) {
      const first = seen.get(name);
      if (first)
        problem(
          l,
          path,
          `expected app resource names to be unique, found ${describe(name)}, already used by ${formatPath(first)}`,
        );
      else seen.set(name, path);
    }
  }
  return problems;
}
