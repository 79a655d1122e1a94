/**
 * The Databricks REST calls the tools make (the post-apply runner, drift), through the official SDK so that
 * authentication resolves exactly as the Databricks tools do: DATABRICKS_HOST + DATABRICKS_TOKEN, OAuth M2M with
 * DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET, or a ~/.databrickscfg profile (DATABRICKS_CONFIG_PROFILE). Every
 * failure becomes a StepError naming the call and the resource; tokens never enter a message.
 */
import { randomUUID } from "node:crypto";
import { ApiError, ConfigError, WorkspaceClient } from "@databricks/sdk-experimental";
import { messageOf, StepError } from "./step-error";

/** Which workspace to talk to when the environment's YAML says so; unset fields resolve as the SDK does. */
export interface WorkspaceTarget {
  readonly host?: string;
  readonly profile?: string;
}

/** A Lakebase instance as GET /api/2.0/database/instances/{name} returns it. */
export type DatabaseInstance = Awaited<ReturnType<WorkspaceClient["database"]["getDatabaseInstance"]>>;

/** How often the instance state is polled while waiting for AVAILABLE. */
const INSTANCE_POLL_MS = 5_000;

/** An app as GET /api/2.0/apps/{name} returns it. */
export type AppInfo = Awaited<ReturnType<WorkspaceClient["apps"]["get"]>>;
/** An app deployment as GET /api/2.0/apps/{name}/deployments/{id} returns it. */
export type AppDeployment = Awaited<ReturnType<WorkspaceClient["apps"]["getDeployment"]>>;
/** Who a Lakebase role stands for (the instance roles API's identity_type). */
export type IdentityType = "USER" | "GROUP" | "SERVICE_PRINCIPAL";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What a configured name stands for, by its form, as Databricks names identities: a user by e-mail, a
 * service principal by application id (a UUID), a group by its display name.
 */
export function identityTypeOf(name: string): IdentityType {
  if (name.includes("@")) return "USER";
  if (UUID.test(name)) return "SERVICE_PRINCIPAL";
  return "GROUP";
}

export class Workspace {
  private readonly client: WorkspaceClient;

  constructor(target: WorkspaceTarget = {}) {
    this.client = new WorkspaceClient({ host: target.host, profile: target.profile });
  }

  /** The deployer's user name, which is also its Postgres role name (an email, or an SP's application id). */
  async currentUserName(): Promise<string> {
    const me = await call("identity", "read the current user (GET /api/2.0/preview/scim/v2/Me)", () =>
      this.client.currentUser.me(),
    );
    if (!me.userName) throw new StepError("identity", "the workspace returned no userName for the current user");
    return me.userName;
  }

  /**
   * Polls the instance until it is AVAILABLE (Terraform's instance update returns before that) and returns
   * its read-write DNS name. `onWait` hears each new state while waiting.
   */
  async waitUntilAvailable(instance: string, timeoutSeconds: number, onWait: (state: string) => void): Promise<string> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    let lastState: string | undefined;
    for (;;) {
      const info = await this.readInstance(instance);
      if (!info)
        throw new StepError("instance", `Lakebase instance "${instance}" not found in this workspace (HTTP 404)`);
      if (info.state === "AVAILABLE") {
        if (!info.read_write_dns)
          throw new StepError(
            "instance",
            `Lakebase instance "${instance}" is AVAILABLE but the workspace returned no read_write_dns for it`,
          );
        return info.read_write_dns;
      }
      const state = info.state ?? "UNKNOWN";
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const hint = state === "STOPPED" ? " (it is stopped: set lakebase.stopped to false)" : "";
        throw new StepError(
          "instance",
          `Lakebase instance "${instance}" is still ${state}, not AVAILABLE, after ${timeoutSeconds} s (instance timeout)${hint}`,
        );
      }
      if (state !== lastState) onWait(state);
      lastState = state;
      await new Promise((done) => setTimeout(done, Math.min(INSTANCE_POLL_MS, remaining)));
    }
  }

  /** The instance as the workspace reports it (spec, state, effective_* values); undefined when it does not exist. */
  async readInstance(instance: string): Promise<DatabaseInstance | undefined> {
    return unlessNotFound("instance", `read Lakebase instance "${instance}"`, () =>
      this.client.database.getDatabaseInstance({ name: instance }),
    );
  }

  /** A short-lived (1 h) OAuth token the deployer logs in to Postgres with. */
  async mintDatabaseCredential(instance: string): Promise<string> {
    const credential = await call("credential", `mint a database credential for instance "${instance}"`, () =>
      this.client.database.generateDatabaseCredential({ instance_names: [instance], request_id: randomUUID() }),
    );
    if (!credential.token)
      throw new StepError("credential", `the workspace returned no token for instance "${instance}"`);
    return credential.token;
  }

  /**
   * Creates the Lakebase role of a workspace identity on the instance (POST …/instances/{instance}/roles);
   * returns false when it already exists (kept as it is). An identity the workspace does not know is an
   * error naming it and `origin`, where the configuration asked for it.
   */
  async createInstanceRole(
    instance: string,
    role: { name: string; identityType: IdentityType; origin: string },
  ): Promise<boolean> {
    try {
      await this.client.database.createDatabaseInstanceRole({
        instance_name: instance,
        database_instance_role: { name: role.name, identity_type: role.identityType },
      });
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.statusCode === 409) return false;
      const identity = `${role.identityType.toLowerCase().replace("_", " ")} "${role.name}"`;
      const unknown = error instanceof ApiError && (error.statusCode === 404 || error.statusCode === 400);
      const message = unknown
        ? `${role.origin}: the workspace does not know ${identity} (HTTP ${error.statusCode}: ${error.message})`
        : describeFailure(
            `create the Lakebase role of ${identity} on instance "${instance}" (named by ${role.origin})`,
            error,
            {},
          );
      throw new StepError("roles", message, { cause: error });
    }
  }

  /** Whether the instance already has a Postgres role of that name (GET …/roles/{name}). */
  async hasInstanceRole(instance: string, name: string): Promise<boolean> {
    try {
      await this.client.database.getDatabaseInstanceRole({ instance_name: instance, name });
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.statusCode === 404) return false;
      throw new StepError("roles", describeFailure(`read role "${name}" of instance "${instance}"`, error, {}), {
        cause: error,
      });
    }
  }

  /** The app as the workspace reports it (status, active deployment); undefined when it does not exist. */
  async findApp(app: string): Promise<AppInfo | undefined> {
    return unlessNotFound("app", `read app "${app}"`, () => this.client.apps.get({ name: app }));
  }

  async readApp(app: string): Promise<AppInfo> {
    return call("release", `read app "${app}"`, () => this.client.apps.get({ name: app }), {
      404: `app "${app}" not found in this workspace (HTTP 404)`,
    });
  }

  /** Asks the platform to start the app's compute; returns at once (the caller waits). */
  async startApp(app: string): Promise<void> {
    await call("release", `start the compute of app "${app}"`, () => this.client.apps.start({ name: app }));
  }

  /** Creates a SNAPSHOT deployment of `sourceCodePath`; returns at once (the caller waits). */
  async createDeployment(app: string, sourceCodePath: string): Promise<AppDeployment> {
    return call("release", `deploy app "${app}" from ${sourceCodePath}`, () =>
      this.client.apps.deploy({
        app_name: app,
        app_deployment: { source_code_path: sourceCodePath, mode: "SNAPSHOT" },
      }),
    );
  }

  async readDeployment(app: string, deploymentId: string): Promise<AppDeployment> {
    return call("release", `read deployment ${deploymentId} of app "${app}"`, () =>
      this.client.apps.getDeployment({ app_name: app, deployment_id: deploymentId }),
    );
  }

  /** Writes a workspace file (RAW, overwriting); its directory must exist. */
  async uploadFile(path: string, content: Buffer): Promise<void> {
    await call("release", `upload ${path}`, () =>
      this.client.workspace.import({ path, content: content.toString("base64"), format: "RAW", overwrite: true }),
    );
  }

  /** Creates a workspace directory and its parents (no error when it exists). */
  async makeDirectory(path: string): Promise<void> {
    await call("release", `create directory ${path}`, () => this.client.workspace.mkdirs({ path }));
  }

  /** Deletes a workspace file; one that is already gone is fine. */
  async deleteFile(path: string): Promise<void> {
    try {
      await this.client.workspace.delete({ path });
    } catch (error) {
      if (error instanceof ApiError && error.statusCode === 404) return;
      throw new StepError("release", describeFailure(`delete ${path}`, error, {}), { cause: error });
    }
  }

  /** A workspace file's bytes; undefined when it does not exist. */
  async readFile(path: string): Promise<Buffer | undefined> {
    try {
      const exported = await this.client.workspace.export({ path, format: "RAW" });
      return Buffer.from(exported.content ?? "", "base64");
    } catch (error) {
      if (error instanceof ApiError && error.statusCode === 404) return undefined;
      throw new StepError("release", describeFailure(`read ${path}`, error, {}), { cause: error });
    }
  }

  /** The app's service principal client id, which is the Postgres role the platform created for it. */
  async appServicePrincipalClientId(app: string): Promise<string> {
    const info = await call("app", `read app "${app}"`, () => this.client.apps.get({ name: app }), {
      404: `app "${app}" not found in this workspace (HTTP 404): deploy the stack first`,
    });
    if (!info.service_principal_client_id)
      throw new StepError("app", `app "${app}" has no service principal yet: deploy the stack first`);
    return info.service_principal_client_id;
  }
}

/** Runs one SDK call, turning its failures into one-line StepErrors; `messages` overrides per HTTP status. */
async function call<T>(
  step: string,
  what: string,
  request: () => Promise<T>,
  messages: Record<number, string> = {},
): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw new StepError(step, describeFailure(what, error, messages), { cause: error });
  }
}

/** Like `call`, but an object that does not exist (HTTP 404) is undefined rather than an error. */
async function unlessNotFound<T>(step: string, what: string, request: () => Promise<T>): Promise<T | undefined> {
  try {
    return await request();
  } catch (error) {
    if (error instanceof ApiError && error.statusCode === 404) return undefined;
    throw new StepError(step, describeFailure(what, error, {}), { cause: error });
  }
}

function describeFailure(what: string, error: unknown, messages: Record<number, string>): string {
  if (error instanceof ApiError) {
    const detail = `HTTP ${error.statusCode}${error.message ? `: ${error.message}` : ""}`;
    if (messages[error.statusCode]) return messages[error.statusCode];
    if (error.statusCode === 401) {
      return `the workspace rejected the credentials (${detail}); check DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET or the profile, and that they have not expired`;
    }
    if (error.statusCode === 403) return `the deployer is not allowed to ${what} (${detail})`;
    return `could not ${what} (${detail})`;
  }
  if (error instanceof ConfigError) {
    return `no usable Databricks credentials (${error.baseMessage}); set DATABRICKS_HOST with DATABRICKS_TOKEN or DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET, or DATABRICKS_CONFIG_PROFILE`;
  }
  const message = messageOf(error);
  // The SDK's OAuth M2M flow reports a refused client as a plain Error from its token request.
  if (message.startsWith("Failed to retrieve token"))
    return `the workspace rejected the OAuth client credentials (${message}); check DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET`;
  return `could not ${what}: ${message}`;
}
