/**
 * HTTP routes (node:http; three resources do not need a framework):
 *   GET  /health      the process is up
 *   GET  /ready       see readiness.ts; 503 with a reason when not ready
 *   GET  /api/notes   the caller's notes, newest first
 *   POST /api/notes   {"text": "..."} -> 201 with the note
 * The caller is the X-Forwarded-Email header the Databricks Apps proxy sets; without it: 401.
 * Every request gets one JSON log line with its request id (X-Request-Id if sane, else a new UUID),
 * which is also echoed in the X-Request-Id response header.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Database, isUnavailable } from "./db.js";
import { errorFields, type Logger } from "./log.js";
import type { ShippedMigration } from "./migrations.js";
import { createNote, listNotes, MAX_NOTE_LENGTH } from "./notes.js";
import { checkReadiness } from "./readiness.js";
import type { TokenProvider } from "./token.js";

export interface HandlerDeps {
  readonly db: Database;
  readonly tokens: TokenProvider;
  readonly logger: Logger;
  readonly migrations: readonly ShippedMigration[];
  readonly readyTimeoutMs?: number;
}

const MAX_BODY_BYTES = 64 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

type Route = (req: IncomingMessage) => Promise<{ status: number; body: unknown }>;

export function createHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { db, tokens, logger, migrations } = deps;

  const routes: Record<string, Partial<Record<string, Route>>> = {
    "/health": { GET: async () => ({ status: 200, body: { status: "ok" } }) },
    "/ready": {
      GET: async () => {
        const readiness = await checkReadiness(db, tokens, migrations, deps.readyTimeoutMs);
        return { status: readiness.ready ? 200 : 503, body: readiness };
      },
    },
    "/api/notes": {
      GET: async (req) => ({ status: 200, body: { notes: await listNotes(db, caller(req)) } }),
      POST: async (req) => {
        const email = caller(req);
        const text = noteText(await readJson(req));
        return { status: 201, body: await createNote(db, email, text) };
      },
    },
  };

  return (req, res) => {
    const started = process.hrtime.bigint();
    const header = req.headers["x-request-id"];
    const requestId = typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
    const path = (req.url ?? "/").split("?")[0];
    res.setHeader("X-Request-Id", requestId);
    res.once("close", () => {
      logger.log("info", "request", {
        request_id: requestId,
        method: req.method,
        path,
        status: res.statusCode,
        duration_ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        ...(!res.writableFinished && { aborted: true }),
      });
    });

    const methods = Object.hasOwn(routes, path) ? routes[path] : undefined;
    const route = methods && Object.hasOwn(methods, req.method ?? "") ? methods[req.method ?? ""] : undefined;
    const result: Promise<{ status: number; body: unknown }> = !methods
      ? Promise.reject(new HttpError(404, `no route for ${path}`))
      : !route
        ? Promise.reject(
            new HttpError(405, `${req.method} is not allowed on ${path}`, { Allow: Object.keys(methods).join(", ") }),
          )
        : route(req);

    result.then(
      ({ status, body }) => send(res, status, body),
      (error: unknown) => {
        if (error instanceof HttpError) return send(res, error.status, { error: error.message }, error.headers);
        const unavailable = isUnavailable(error);
        logger.log("error", unavailable ? "database unavailable" : "request failed", {
          request_id: requestId,
          ...errorFields(error),
        });
        send(res, unavailable ? 503 : 500, {
          error: unavailable ? "database unavailable" : "internal error",
          request_id: requestId,
        });
      },
    );
  };
}

function caller(req: IncomingMessage): string {
  const email = req.headers["x-forwarded-email"];
  if (typeof email !== "string" || !email.trim()) {
    throw new HttpError(401, "missing X-Forwarded-Email: call the app through the Databricks Apps proxy");
  }
  if (email.length > 320 || !EMAIL.test(email.trim()))
    throw new HttpError(401, "X-Forwarded-Email is not an email address");
  return email.trim();
}

function noteText(body: unknown): string {
  const text = (body as { text?: unknown } | null)?.text;
  if (typeof text !== "string" || !text.trim())
    throw new HttpError(400, 'expected a JSON object with a non-empty string "text"');
  if (text.length > MAX_NOTE_LENGTH) throw new HttpError(400, `"text" is longer than ${MAX_NOTE_LENGTH} characters`);
  return text;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`, { Connection: "close" });
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "request body is not valid JSON");
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(payload),
    "Cache-Control": "no-store",
  });
  res.end(payload);
}
