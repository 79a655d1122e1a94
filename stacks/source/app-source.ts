import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Construct } from "constructs";
import { Directory } from "@cdktf/provider-databricks/lib/directory";
import { WorkspaceFile } from "@cdktf/provider-databricks/lib/workspace-file";
import { compareStrings, contentHash, type FileContent } from "../content-hash";
import { App, TerraformIterator } from "../cdktf";
import { relativeToStackDirectory } from "../stack-paths";
import { APP_SOURCE_DIR } from "../repo-paths";


/** Directories never uploaded, at any depth: tests, dependencies, VCS data, local environments, build output and caches. */
const EXCLUDED_DIRECTORIES = new Set([
  "test", "tests", "__tests__",
  "node_modules", ".git", ".venv", "venv",
  // Rebuilt by the Apps runtime (npm run build); a local leftover would make synth depend on the machine.
  "dist",
  "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".cache",
]);
/** File names never uploaded. */
const EXCLUDED_FILES: readonly RegExp[] = [
  /\.(test|spec)\./, // *.test.*, *.spec.*
  /^\.env(\..*)?$/, // .env, .env.*: local settings, often secrets
  /\.py[co]$/, /^\.DS_Store$/, /\.tsbuildinfo$/, // caches
];

/**
 * The files of an app source directory that make up the deployed app, as posix paths relative to `dir`,
 * in code-unit order.
 */
export function appSourceFiles(dir: string): string[] {
  if (!existsSync(dir)) throw new Error(`app source directory ${dir}: expected a directory with the app's code, found nothing there`);
  const walk = (relative: string): string[] =>
    readdirSync(join(dir, relative), { withFileTypes: true }).flatMap((entry) => {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) return EXCLUDED_DIRECTORIES.has(entry.name) ? [] : walk(path);
      return entry.isFile() && !EXCLUDED_FILES.some((p) => p.test(entry.name)) ? [path] : [];
    });
  return walk("").sort(compareStrings);
}

/** An app source directory as read: each file's path and md5, and the set's `contentHash`. */
interface SourceSnapshot {
  readonly files: readonly { readonly path: string; readonly md5: string }[];
  readonly contentHash: string;
}

/** Every environment uploads the same code: one synth (one App) reads and hashes a source directory once. */
const SNAPSHOTS = new WeakMap<App, Map<string, SourceSnapshot>>();

function snapshot(scope: Construct, sourceDir: string): SourceSnapshot {
  const app = App.of(scope);
  const snapshots = SNAPSHOTS.get(app) ?? SNAPSHOTS.set(app, new Map()).get(app)!;
  let taken = snapshots.get(sourceDir);
  if (!taken) {
    const files: FileContent[] = appSourceFiles(sourceDir).map((path) => ({ path, content: readFileSync(join(sourceDir, path)) }));
    if (files.length === 0) throw new Error(`app source directory ${sourceDir}: expected files to upload, found none`);
    taken = { files: files.map(({ path, content }) => ({ path, md5: createHash("md5").update(content).digest("hex") })), contentHash: contentHash(files) };
    snapshots.set(sourceDir, taken);
  }
  return taken;
}

export interface AppSourceProps {
  /** The workspace directory, without the `/Workspace` prefix. */
  readonly workspacePath: string;
  /** @default - `app-src/` of this repository */
  readonly sourceDir?: string;
}

/**
 * The app's source files uploaded as workspace files under one directory, ready for an app deployment.
 *
 * One `databricks_workspace_file` with `for_each` over the files, keyed by their relative path: addresses read
 * `…files["src/app.ts"]`, adding a file never moves another, and synth stays one resource per stack however
 * many files the app has. Each file's `source` is relative to the stack directory Terraform runs in (no
 * absolute path of this machine in the output, no file contents in it either), and its `md5` makes a local
 * edit re-upload it.
 */
export class AppSource extends Construct {
  readonly directory: Directory;
  readonly files: WorkspaceFile;
  /** Where an app deployment takes its code from (`/Workspace` + the directory). */
  readonly sourceCodePath: string;
  /** sha256 of the uploaded set (see `contentHash`): changes exactly when the deployed code would. */
  readonly contentHash: string;

  constructor(scope: Construct, id: string, props: AppSourceProps) {
    super(scope, id);
    const sourceDir = props.sourceDir ?? APP_SOURCE_DIR;
    const { files, contentHash: hash } = snapshot(this, sourceDir);

    // delete_recursive: removing the environment removes its uploaded code instead of failing on a non-empty directory.
    this.directory = new Directory(this, "directory", { path: props.workspacePath, deleteRecursive: true });
    const each = TerraformIterator.fromMap(
      Object.fromEntries(
        files.map((file) => [
          file.path,
          { source: relativeToStackDirectory(this, join(sourceDir, file.path)), md5: file.md5 },
        ]),
      ),
    );
    this.files = new WorkspaceFile(this, "files", {
      forEach: each,
      path: `${props.workspacePath}/${each.key}`,
      source: each.getString("source"),
      md5: each.getString("md5"),
      dependsOn: [this.directory],
    });
    this.sourceCodePath = `/Workspace${props.workspacePath}`;
    this.contentHash = hash;
  }
}
