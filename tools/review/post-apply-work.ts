/**
 * The work an apply triggers beyond Terraform's own: which migrations the post-apply runner will apply,
 * whether it re-grants, and whether the app's code is uploaded again.
 */
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { migrationFiles } from "../lib/migration-folder";
import { APP_SOURCE_DIR, MIGRATIONS_DIR, REPO_ROOT } from "../../stacks/repo-paths";
import { appSourceSha256 } from "../../stacks/source/app-source-files";
import type { Instance, ResourceChange } from "./offline-plan";

export interface PostApplyWork {
  /** The post-apply step is created or replaced, so it runs during the apply. */
  readonly runs: boolean;
  /** Migration files in the head tree and not in the base one (all of them for a new environment). */
  readonly newMigrations: readonly string[];
  /** Files in both trees with different content: the runner refuses to apply an edited applied migration. */
  readonly editedMigrations: readonly string[];
  readonly removedMigrations: readonly string[];
  readonly grantsChanged: boolean;
  /** The uploaded app source's content hash (`appSourceSha256`) differs. */
  readonly appSourceChanged: boolean;
  /** Whether the release step deploys the app again, and why (empty when it does not). */
  readonly releaseReasons: readonly string[];
}

/** A tree's side of one environment: its root and its resource instances (none when the environment is absent). */
export interface Side {
  readonly root: string;
  readonly instances: Map<string, Instance>;
}

/** The post-apply step: the `terraform_data` whose replacement triggers include the grants hash. */
function postApplyStep(instances: Map<string, Instance>): { address: string; grantsHash: unknown } | undefined {
  for (const [address, instance] of instances) {
    const triggers = instance.config.triggers_replace as Record<string, unknown> | undefined;
    if (instance.type === "terraform_data" && triggers?.grants_sha256)
      return { address, grantsHash: triggers.grants_sha256 };
  }
  return undefined;
}

/** The release step: the `terraform_data` whose replacement triggers include the source hash. */
function releaseStep(
  instances: Map<string, Instance>,
): { address: string; triggers: Record<string, unknown> } | undefined {
  for (const [address, instance] of instances) {
    const triggers = instance.config.triggers_replace as Record<string, unknown> | undefined;
    if (instance.type === "terraform_data" && triggers?.source_sha256) return { address, triggers };
  }
  return undefined;
}

/** Why the release step runs, from what changed in its triggers. */
function releaseReasons(base: Side, head: Side, plan: readonly ResourceChange[]): string[] {
  const after = releaseStep(head.instances);
  if (!after || !plan.some((c) => c.address === after.address && (c.action === "create" || c.action === "replace")))
    return [];
  const before = releaseStep(base.instances)?.triggers;
  if (!before) return ["first release of this environment"];
  const differs = (key: string) => JSON.stringify(before[key]) !== JSON.stringify(after.triggers[key]);
  const reasons = [
    ...(differs("source_sha256") ? ["the app's source changed"] : []),
    ...(differs("app_env") ? ["its settings (app.env) changed"] : []),
    ...(differs("app_sp_client_id") ? ["the app is re-created"] : []),
  ];
  // runs_sha256 covers the source too; anything else in it is the app's bindings, settings or migrations.
  if (differs("runs_sha256") && !differs("source_sha256"))
    reasons.push("its bindings, settings or the migrations its code expects changed");
  return reasons;
}

function appSourceHash(root: string): string | undefined {
  const dir = join(root, relative(REPO_ROOT, APP_SOURCE_DIR));
  return existsSync(dir) ? appSourceSha256(dir) : undefined;
}

/** Migration file names with their checksums; none when the environment is absent from the tree. */
function migrations(side: Side): Map<string, string> {
  if (side.instances.size === 0) return new Map();
  return new Map(
    migrationFiles(join(side.root, relative(REPO_ROOT, MIGRATIONS_DIR))).map((file) => [file.name, file.checksum]),
  );
}

export function postApplyWork(base: Side, head: Side, plan: readonly ResourceChange[]): PostApplyWork {
  const before = migrations(base);
  const after = migrations(head);
  const headHasStack = head.instances.size > 0;
  const step = postApplyStep(head.instances);
  return {
    runs: plan.some((c) => c.address === step?.address && (c.action === "create" || c.action === "replace")),
    newMigrations: [...after.keys()].filter((name) => !before.has(name)),
    editedMigrations: [...after.keys()].filter((name) => before.has(name) && before.get(name) !== after.get(name)),
    removedMigrations: headHasStack ? [...before.keys()].filter((name) => !after.has(name)) : [],
    grantsChanged: headHasStack && postApplyStep(base.instances)?.grantsHash !== step?.grantsHash,
    appSourceChanged:
      headHasStack && (base.instances.size === 0 || appSourceHash(base.root) !== appSourceHash(head.root)),
    releaseReasons: releaseReasons(base, head, plan),
  };
}
