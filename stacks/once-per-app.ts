import type { IConstruct } from "constructs";

const made = new WeakMap<IConstruct, Map<string, unknown>>();

/**
 * `make()` once per construct tree (one App, one synthesis) and `key`: every stack of an app reads and hashes
 * the same app source and migrations, so a synthesis of many environments reads them once, not once per
 * stack. A new App makes them again (files may have changed in between). A `make()` that throws is not kept.
 */
export function oncePerApp<T>(scope: IConstruct, key: string, make: () => T): T {
  const root = scope.node.root;
  let values = made.get(root);
  if (!values) {
    values = new Map();
    made.set(root, values);
  }
  if (!values.has(key)) values.set(key, make());
  return values.get(key) as T;
}
