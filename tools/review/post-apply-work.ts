/**
 * The work an apply triggers beyond Terraform's own: which migrations the post-apply runner will apply,
 * whether it re-grants, and whether the app's code is uploaded again.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO_ROOT } from "../../stacks/config/load-environments";
import { contentHash } from "../../stacks/content-hash";
import { migrationFiles } from "../../stacks/post-apply/migrations";
import { APP_SOURCE_DIR, MIGRATIONS_DIR } from "../../stacks/repo-paths";
import { appSourceFiles } from "../../stacks/source/app-source";
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
  /** The uploaded app source's content hash (`contentHash` of `appSourceFiles`) differs: its code is uploaded again. */
  readonly appSourceChanged: boolean;
  /** App source files (workspace files) created, updated, replaced or destroyed. */
  readonly appSourceFileChanges: number;
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
    if (instance.type === "terraform_data" && triggers?.grants_sha256) return { address, grantsHash: triggers.grants_sha256 };
  }
  return undefined;
}

function appSourceHash(root: string): string | undefined {
  const dir = join(root, relative(REPO_ROOT, APP_SOURCE_DIR));
  return existsSync(dir) ? contentHash(appSourceFiles(dir).map((path) => ({ path, content: readFileSync(join(dir, path)) }))) : undefined;
}

/** Migration file names with their checksums; none when the environment is absent from the tree. */
function migrations(side: Side): Map<string, string> {
  if (side.instances.size === 0) return new Map();
  return new Map(migrationFiles(join(side.root, relative(REPO_ROOT, MIGRATIONS_DIR))).map((file) => [file.name, file.checksum]));
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
    appSourceChanged: headHasStack && (base.instances.size === 0 || appSourceHash(base.root) !== appSourceHash(head.root)),
    appSourceFileChanges: plan.filter((c) => c.type === "databricks_workspace_file").length,
  };
}
