/**
 * The deploy's own steps in a Terraform plan: the `terraform_data` resources that run the post-apply runner
 * (migrations, grants) and the release (the app's code deployed), told apart by the trigger only each sets,
 * and why a plan runs them again, in words, from Terraform's own reason and the triggers that change.
 */
import { attributeChanges, KNOWN_AFTER_APPLY, type ResourceChangeJson } from "./terraform-plan";

export type DeployStep = "post-apply" | "release";

/** What each step does, for people. */
export const STEP_WORK: Readonly<Record<DeployStep, string>> = {
  "post-apply": "migrations and grants (post-apply step)",
  release: "the app's code deployed (release step)",
};

/** What a changed trigger means (stacks/post-apply/post-apply.ts, stacks/release/app-release.ts). */
const TRIGGERS: Readonly<Record<string, string>> = {
  migrations_sha256: "the migration files changed",
  grants_sha256: "the grant settings changed (schema, app access, read-only roles)",
  app_sp_client_id: "the app's service principal changes",
  instance_name: "the Lakebase instance changes",
  database_name: "the database changes",
  schema: "the app schema changes",
  runs_sha256: "what the app runs changed (its source files, settings, bindings or migrations)",
  source_sha256: "the app's source files changed (synced to the workspace before the deployment)",
  app_env: "the app's settings (app.env) changed",
};

/** The deploy step a change is, if it is one. */
export function deployStepOf(change: ResourceChangeJson): DeployStep | undefined {
  if (change.type !== "terraform_data") return undefined;
  const triggers = (side: unknown) =>
    (side as { triggers_replace?: Record<string, unknown> } | null)?.triggers_replace ?? {};
  const keys = new Set([...Object.keys(triggers(change.change.before)), ...Object.keys(triggers(change.change.after))]);
  if (keys.has("grants_sha256")) return "post-apply";
  if (keys.has("runs_sha256")) return "release";
  return undefined;
}

/** Why the step runs, one phrase per cause: a first deploy, a failed last run, or each trigger that changes. */
export function stepReasons(change: ResourceChangeJson): string[] {
  if (change.action_reason === "replace_because_tainted") return ["its last run failed (tainted), so it runs again"];
  if (!change.change.before) return ["it has not run in this environment yet"];
  return changedTriggers(change).map(
    ({ trigger, before, after }) =>
      `${TRIGGERS[trigger.split(/[.[]/)[0]] ?? trigger} (${trigger}: ${short(before)} → ${after === KNOWN_AFTER_APPLY ? after : short(after)})`,
  );
}

/** The step's triggers (`triggers_replace.*`) that the change changes. */
export function changedTriggers(change: ResourceChangeJson): { trigger: string; before: unknown; after: unknown }[] {
  return attributeChanges(change.change).flatMap(({ path, before, after }) => {
    const trigger = path.replace(/^triggers_replace\./, "");
    return trigger === path ? [] : [{ trigger, before, after }];
  });
}

/** Hashes and ids shortened for people: the first 12 characters. */
function short(value: unknown): string {
  const text = String(value ?? "(none)");
  return /^[0-9a-f]{40,}$/.test(text) ? `${text.slice(0, 12)}…` : text;
}
