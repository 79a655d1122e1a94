/**
 * The sensitive Terraform variable that carries a secret's value. Users (or CI) set it as the
 * environment variable `TF_VAR_<name>` at plan/apply time, so values never live in YAML or synth output.
 */
export function secretVariableName(key: string): string {
  return `secret_${key.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`;
}
