/**
 * An in-process HTTP fake of the few Databricks REST endpoints the post-apply runner calls, so the runner
 * and the official SDK run unmodified against it: PAT and OAuth M2M authentication, the current user, Lakebase
 * instances (whose state can be scripted), database credentials and apps. Every request is recorded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeInstance {
  /** States returned by successive GETs; the last one repeats. */
  states: string[];
  readWriteDns: string;
}

export interface FakeDatabricksOptions {
  /** The personal access token accepted as `Authorization: Bearer`. */
  readonly token: string;
  /** OAuth M2M client accepted by the token endpoint. */
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly userName: string;
  /** What POST /api/2.0/database/credentials returns as `token`. */
  readonly databaseToken: string;
  readonly instances?: Record<string, FakeInstance>;
  /** App name → its service principal client id. */
  readonly apps?: Record<string, string>;
  /**
   * Workspace identities whose Lakebase roles already exist on every instance (the tests' PostgreSQL has
   * them): creating one answers 409 as the roles API does; any other identity is unknown to the workspace.
   */
  readonly roles?: readonly string[];
  /** Answer the credential endpoint with 403, as for a deployer without CAN_USE on the instance. */
  readonly denyCredentials?: boolean;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization?: string;
  readonly body: string;
}

export interface FakeDatabricks {
  /** `http://127.0.0.1:<port>`: use as DATABRICKS_HOST. */
  readonly host: string;
  readonly requests: RecordedRequest[];
  readonly instances: Record<string, FakeInstance>;
  stop(): Promise<void>;
}

/** The access token the M2M token endpoint issues. */
const M2M_ACCESS_TOKEN = "fake-m2m-access-token";

export async function startFakeDatabricks(options: FakeDatabricksOptions): Promise<FakeDatabricks> {
  const requests: RecordedRequest[] = [];
  const instances = structuredClone(options.instances ?? {});
  const validBearers = new Set([`Bearer ${options.token}`, `Bearer ${M2M_ACCESS_TOKEN}`]);

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const path = new URL(req.url ?? "/", "http://fake").pathname;
    requests.push({ method: req.method ?? "GET", path, authorization: req.headers.authorization, body });
    const route = `${req.method} ${path}`;

    if (route === "GET /oidc/.well-known/oauth-authorization-server") {
      return json(res, 200, {
        authorization_endpoint: `${host}/oidc/v1/authorize`,
        token_endpoint: `${host}/oidc/v1/token`,
      });
    }
    if (route === "POST /oidc/v1/token") {
      const expected = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString("base64")}`;
      const form = new URLSearchParams(body);
      if (
        !options.clientId ||
        req.headers.authorization !== expected ||
        form.get("grant_type") !== "client_credentials" ||
        form.get("scope") !== "all-apis"
      ) {
        return json(res, 401, { error: "invalid_client", error_description: "Client authentication failed" });
      }
      return json(res, 200, { access_token: M2M_ACCESS_TOKEN, token_type: "Bearer", expires_in: 3600 });
    }
    if (!validBearers.has(req.headers.authorization ?? "")) {
      return json(res, 401, { error_code: "UNAUTHENTICATED", message: "Invalid access token." });
    }

    if (route === "GET /api/2.0/preview/scim/v2/Me") return json(res, 200, { userName: options.userName });

    const instance = /^GET \/api\/2\.0\/database\/instances\/([^/]+)$/.exec(route);
    if (instance) {
      const name = decodeURIComponent(instance[1]);
      const found = instances[name];
      if (!found)
        return json(res, 404, {
          error_code: "RESOURCE_DOES_NOT_EXIST",
          message: `Database instance '${name}' does not exist.`,
        });
      const state = found.states.length > 1 ? found.states.shift() : found.states[0];
      return json(res, 200, { name, state, read_write_dns: found.readWriteDns });
    }

    const role = /^(POST|GET) \/api\/2\.0\/database\/instances\/([^/]+)\/roles(?:\/([^/]+))?$/.exec(route);
    if (role) {
      const name =
        role[1] === "POST" ? (JSON.parse(body || "{}") as { name?: string }).name : decodeURIComponent(role[3] ?? "");
      if (!instances[decodeURIComponent(role[2])])
        return json(res, 404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: "no such instance" });
      if (!name || !options.roles?.includes(name))
        return json(res, 404, {
          error_code: "RESOURCE_DOES_NOT_EXIST",
          message: `Identity '${name}' not found in this workspace.`,
        });
      if (role[1] === "POST")
        return json(res, 409, { error_code: "RESOURCE_ALREADY_EXISTS", message: `Role '${name}' already exists.` });
      return json(res, 200, { name, identity_type: "GROUP" });
    }

    if (route === "POST /api/2.0/database/credentials") {
      if (options.denyCredentials)
        return json(res, 403, {
          error_code: "PERMISSION_DENIED",
          message: "User does not have CAN_USE on the database instance.",
        });
      const request = JSON.parse(body || "{}") as { instance_names?: string[]; request_id?: string };
      const unknown = (request.instance_names ?? []).filter((n) => !instances[n]);
      if (!request.instance_names?.length || !request.request_id || unknown.length) {
        return json(res, 400, { error_code: "INVALID_PARAMETER_VALUE", message: `bad credential request: ${body}` });
      }
      return json(res, 200, {
        token: options.databaseToken,
        expiration_time: new Date(Date.now() + 3_600_000).toISOString(),
      });
    }

    const app = /^GET \/api\/2\.0\/apps\/([^/]+)$/.exec(route);
    if (app) {
      const name = decodeURIComponent(app[1]);
      const clientId = options.apps?.[name];
      if (!clientId)
        return json(res, 404, {
          error_code: "RESOURCE_DOES_NOT_EXIST",
          message: `App with name ${name} does not exist or is deleted.`,
        });
      return json(res, 200, { name, service_principal_client_id: clientId });
    }

    return json(res, 404, { error_code: "ENDPOINT_NOT_FOUND", message: `No API found for '${route}'` });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    requests,
    instances,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        // The SDK keeps connections alive; close them so stopping does not wait for their idle timeout.
        server.closeAllConnections();
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
