/**
 * Syncs the app's source into its workspace directory before a release: uploads the files that are new or
 * changed, deletes the ones no longer in the source, and records what is there in a manifest file in the
 * directory. The cost follows the change, not the app's size: a one-file edit uploads one file.
 *
 * The file set is the one synth hashed (`appSource`); if the working tree no longer hashes the same, the
 * sync refuses, so an apply never ships other code than its plan showed.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { contentHash } from "../../stacks/content-hash";
import { appSource } from "../../stacks/source/app-source-files";
import type { ReleaseStepInputs } from "../lib/post-apply-inputs";
import { type Report, StepError } from "../lib/step-error";
import type { Workspace } from "../lib/workspace";

/** What a sync needs of the release's inputs. */
export type SourceSyncInputs = Pick<ReleaseStepInputs, "sourceDir" | "workspacePath" | "sourceSha256" | "appEnv">;

/** Path → sha256 of every file the last sync left in the directory. */
type Manifest = Record<string, string>;

/** Kept in the synced directory itself, so it goes wherever the directory goes (and is deleted with it). */
export const MANIFEST_FILE = ".databricks-app-stack-manifest.json";

/** Uploads at once: enough to hide request latency, few enough not to be throttled. */
const CONCURRENCY = 8;

export async function syncSource(
  inputs: SourceSyncInputs,
  workspace: Workspace,
  report: Report,
): Promise<{ uploaded: number; deleted: number }> {
  const files = appSource(inputs.sourceDir, inputs.appEnv);
  const actual = contentHash(files);
  if (actual !== inputs.sourceSha256) {
    throw new StepError(
      "release",
      `the app source in ${inputs.sourceDir} is not what was planned (sha256 ${actual}, planned ${inputs.sourceSha256}): plan again`,
    );
  }
  const root = inputs.workspacePath;
  const manifestPath = `${root}/${MANIFEST_FILE}`;
  const previous = parseManifest(await workspace.readFile(manifestPath));
  const wanted: Manifest = Object.fromEntries(
    files.map((f) => [f.path, createHash("sha256").update(f.content).digest("hex")]),
  );
  const changed = files.filter((f) => previous[f.path] !== wanted[f.path]);
  const removed = Object.keys(previous).filter((path) => !(path in wanted));

  const directories = [...new Set(changed.map((f) => posix.dirname(`${root}/${f.path}`)))];
  await forEach(directories, (dir) => workspace.makeDirectory(dir));
  await forEach(changed, (f) => workspace.uploadFile(`${root}/${f.path}`, f.content));
  await forEach(removed, (path) => workspace.deleteFile(`${root}/${path}`));
  // Last: an interrupted sync leaves the old manifest, so the next one uploads again what it may have missed.
  await workspace.uploadFile(manifestPath, Buffer.from(`${JSON.stringify(wanted, null, 1)}\n`));
  report(
    "source",
    `${changed.length} of ${files.length} file${files.length === 1 ? "" : "s"} uploaded, ${removed.length} deleted, to ${root}`,
  );
  return { uploaded: changed.length, deleted: removed.length };
}

function parseManifest(content: Buffer | undefined): Manifest {
  if (!content) return {};
  try {
    const parsed = JSON.parse(content.toString("utf8")) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Manifest) : {};
  } catch {
    return {}; // unreadable: upload everything again
  }
}

async function forEach<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}
