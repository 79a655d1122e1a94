import { createHash } from "node:crypto";
import { Construct } from "constructs";
import type { App as AppResource } from "@cdktf/provider-databricks/lib/app";
import type { ITerraformDependable } from "../cdktf";
import { REPO_ROOT } from "../repo-paths";
import type { EnvironmentConfig } from "../config/schema";
import { relativeToStackDirectory } from "../stack-paths";
import type { AppSource } from "../source/app-source";
import { TerraformData } from "../terraform-data";
import { RELEASE_COMMAND, releaseStepEnvironment } from "../../tools/lib/post-apply-inputs";

export interface AppReleaseProps {
  readonly app: AppResource;
  /** The source to sync into the app's workspace directory and deploy. */
  readonly source: AppSource;
  /** Plain settings added to app.yaml's `env` (already part of `source`'s hash; listed so a review shows them). @default - none */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * What the app runs besides its source, hashed: a change to any of these deploys the app again (the app's
   * bindings and settings, the migrations its code expects); nothing else does.
   */
  readonly runs: Record<string, unknown>;
  /** Bound on the whole release (compute start, other deployments, this one). */
  readonly timeoutSeconds: number;
  /** The steps that must be done first: migrations and grants. */
  readonly after: readonly ITerraformDependable[];
  /** @default - the runner resolves the workspace from the inherited environment, as the provider does */
  readonly workspace?: EnvironmentConfig["workspace"];
}

/**
 * The release phase: syncs the app's source into its workspace directory, deploys it to the app (Apps
 * deployments API, SNAPSHOT) and waits until the app is RUNNING it. Terraform's app resource never deploys code, so without this a first deploy leaves
 * the app "not deployed yet" and a later one leaves it running old code. A failed release leaves this
 * resource tainted, so the next deploy tries again; everything before it stays applied.
 */
export class AppRelease extends Construct {
  readonly resource: TerraformData;

  constructor(scope: Construct, id: string, props: AppReleaseProps) {
    super(scope, id);
    const { app, source, env = {}, runs, timeoutSeconds, after, workspace } = props;
    this.resource = new TerraformData(this, "Resource", {
      triggersReplace: {
        runs_sha256: createHash("sha256")
          .update(JSON.stringify({ ...runs, source: source.contentHash }))
          .digest("hex"),
        source_sha256: source.contentHash,
        app_env: env,
        // A re-created app (new service principal) has no deployment yet.
        app_sp_client_id: app.servicePrincipalClientId,
      },
      dependsOn: [app, source.directory, ...after],
      provisioners: [
        {
          type: "local-exec",
          command: RELEASE_COMMAND,
          workingDir: relativeToStackDirectory(this, REPO_ROOT),
          environment: releaseStepEnvironment(
            {
              app: app.name,
              sourceDir: source.sourceDir,
              workspacePath: source.workspacePath,
              sourceSha256: source.contentHash,
              appEnv: env,
              releaseTimeoutSeconds: timeoutSeconds,
            },
            workspace,
          ),
        },
      ],
    });
  }
}
