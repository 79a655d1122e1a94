import { Construct } from "constructs";
import { Directory } from "@cdktf/provider-databricks/lib/directory";
import { APP_SOURCE_DIR } from "../repo-paths";
import { oncePerApp } from "../once-per-app";
import { readAppSource, withAppEnv } from "./app-source-files";
import { contentHash } from "../content-hash";

export interface AppSourceProps {
  /** The workspace directory, without the `/Workspace` prefix. */
  readonly workspacePath: string;
  /** @default - `app-src/` of this repository */
  readonly sourceDir?: string;
  /** Plain settings added to `app.yaml`'s `env` for this environment. @default - none */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Where the app's source goes in the workspace, and what that source is.
 *
 * Terraform manages one directory (deleting it recursively when the environment goes); the files in it are
 * synced by the release step, not declared one resource per file: a plan then costs the same for 16 files
 * or 1,000, and an apply uploads only what changed. What is uploaded is pinned here by its content hash,
 * which the release step checks before uploading, so an apply never ships other code than the plan showed.
 */
export class AppSource extends Construct {
  readonly directory: Directory;
  /** The workspace directory, without the `/Workspace` prefix. */
  readonly workspacePath: string;
  /** Where an app deployment takes its code from (`/Workspace` + the directory). */
  readonly sourceCodePath: string;
  /** The local source directory. */
  readonly sourceDir: string;
  /** sha256 of the deployed file set (see `appSourceSha256`): changes exactly when the deployed code would. */
  readonly contentHash: string;
  /** How many files are deployed. */
  readonly fileCount: number;

  constructor(scope: Construct, id: string, props: AppSourceProps) {
    super(scope, id);
    this.sourceDir = props.sourceDir ?? APP_SOURCE_DIR;
    const sourceDir = this.sourceDir;
    const files = withAppEnv(
      oncePerApp(this, `app source ${sourceDir}`, () => readAppSource(sourceDir)),
      sourceDir,
      props.env ?? {},
    );
    // delete_recursive: removing the environment removes its uploaded code instead of failing on a non-empty directory.
    this.directory = new Directory(this, "directory", { path: props.workspacePath, deleteRecursive: true });
    this.workspacePath = props.workspacePath;
    this.sourceCodePath = `/Workspace${props.workspacePath}`;
    this.contentHash = contentHash(files);
    this.fileCount = files.length;
  }
}
