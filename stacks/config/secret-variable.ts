/**
 * The sensitive Terraform variable that carries a secret's value. Users (or CI) set it as the
 * environment variable `TF_VAR_<name>` at plan/apply time, so values never live in YAML or synth output.
 */
export function secretVariableName(key: string): string {
  return `secret_${key.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`;
}

/**
 * Key names a secret cannot have. Each secret is a construct named after its key (its Terraform address),
 * and constructs keeps a scope's children in a plain object: `constructor`, `toString`, `__proto__`... are
 * taken by Object.prototype, and `scope` by the secret scope next to the secrets.
 */
export const RESERVED_SECRET_KEYS: ReadonlySet<string> = new Set([
  "scope",
  ...Object.getOwnPropertyNames(Object.prototype),
]);
