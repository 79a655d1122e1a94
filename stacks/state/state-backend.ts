/**
 * Where an environment's Terraform state lives. Local state is never in the build output (`cdktf.out/`,
 * which a clean or a fresh checkout deletes): it is `<state dir>/<env>.tfstate`, the state directory being
 * `terraform-state/` of this repository (git-ignored) unless STACK_STATE_DIR names another, e.g. the first
 * clone's `terraform-state/` for a second clone on the same machine. Remote backends are written as configured.
 */
import { join, resolve } from "node:path";
import {
  AzurermBackend,
  GcsBackend,
  LocalBackend,
  NamedRemoteWorkspace,
  RemoteBackend,
  S3Backend,
  type TerraformBackend,
  type TerraformStack,
} from "../cdktf";
import { REPO_ROOT } from "../repo-paths";
import type { BackendConfig } from "../config/schema";
import { relativeToStackDirectory } from "../stack-paths";

export const DEFAULT_STATE_DIR = join(REPO_ROOT, "terraform-state");

/** Where state goes on this machine (not in the YAML: the YAML is shared by every clone and machine). */
export interface StateLocation {
  /** Directory of the local state files, `<dir>/<env>.tfstate`. @default DEFAULT_STATE_DIR */
  readonly localStateDir?: string;
  /**
   * Test only: every environment, whatever its configured backend, keeps local state in `<dir>/<env>.tfstate`
   * (how the e2e tier deploys production against the emulator). Marked in the synthesized backend block; the
   * stack accepts the DBX-ProductionRemoteState finding it makes in production (`localStateReason`).
   * @default - each environment's configured backend
   */
  readonly testStateDir?: string;
}

/** The state location this process was given: STACK_STATE_DIR and STACK_TEST_STATE_DIR, relative to the working directory. */
export function stateLocation(env: NodeJS.ProcessEnv = process.env): StateLocation {
  return {
    localStateDir: env.STACK_STATE_DIR ? resolve(env.STACK_STATE_DIR) : undefined,
    testStateDir: env.STACK_TEST_STATE_DIR ? resolve(env.STACK_TEST_STATE_DIR) : undefined,
  };
}

export interface StateBackendProps {
  /** The environment: its state file is `<env>.tfstate`. */
  readonly environment: string;
  readonly config: BackendConfig;
  /** @default - local state in DEFAULT_STATE_DIR, configured backends as they are */
  readonly location?: StateLocation;
}

/** Adds the stack's backend: the configured one, or local state (see StateLocation). */
export function addStateBackend(stack: TerraformStack, props: StateBackendProps): TerraformBackend {
  const { environment, config, location = {} } = props;
  if (config.type !== "local" && !location.testStateDir) return remoteBackend(stack, config);

  const dir = location.testStateDir ?? location.localStateDir ?? DEFAULT_STATE_DIR;
  // Written relative to the directory Terraform runs in (`cdktf.out/stacks/<env>`), like every path it reads.
  const backend = new LocalBackend(stack, {
    path: relativeToStackDirectory(stack, join(dir, `${environment}.tfstate`)),
  });
  if (location.testStateDir) {
    backend.addOverride(
      "//",
      `TEST ONLY: local state from STACK_TEST_STATE_DIR${config.type !== "local" ? ` in place of the configured ${config.type} backend` : ""}`,
    );
  }
  return backend;
}

/**
 * Why the state is local although it should not be (a production environment's, say): the YAML's
 * `backend.reason`, or the test-only override replacing a configured backend; undefined when there is none.
 */
export function localStateReason(config: BackendConfig, location: StateLocation = {}): string | undefined {
  if (location.testStateDir && config.type !== "local")
    return `test only: STACK_TEST_STATE_DIR replaces the ${config.type} backend with local state`;
  return config.type === "local" ? config.reason : undefined;
}

function remoteBackend(stack: TerraformStack, config: Exclude<BackendConfig, { type: "local" }>): TerraformBackend {
  switch (config.type) {
    case "s3": {
      const { bucket, key, region, dynamodbTable } = config;
      const s3 = new S3Backend(stack, { bucket, key, region, dynamodbTable });
      // S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend has no property for it yet.
      if (!dynamodbTable) s3.addOverride("use_lockfile", true);
      return s3;
    }
    case "azurerm": {
      const { type: _, ...props } = config;
      return new AzurermBackend(stack, props);
    }
    case "gcs": {
      const { type: _, ...props } = config;
      return new GcsBackend(stack, props);
    }
    case "remote":
      return new RemoteBackend(stack, {
        hostname: config.hostname,
        organization: config.organization,
        workspaces: new NamedRemoteWorkspace(config.workspace),
      });
  }
}
