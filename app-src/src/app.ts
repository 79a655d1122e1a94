/** Wires the pieces together: token provider -> pool -> HTTP server. main.ts runs it; tests start it in-process. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { AppConfig } from "./config.js";
import { createPool, Database, type PoolOptions } from "./db.js";
import { jsonLogger, type Logger } from "./log.js";
import { shippedMigrations } from "./migrations.js";
import { createHandler } from "./server.js";
import { type MintToken, TokenProvider, workspaceOAuthToken } from "./token.js";

/** migrations/ beside src/ (and beside dist/ once built): shipped with the app. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL("../migrations/", import.meta.url));

export interface AppOptions {
  readonly config: AppConfig;
  readonly logger?: Logger;
  /** How to get a database token. @default the workspace OAuth M2M token of config.clientId */
  readonly mint?: MintToken;
  readonly refreshMarginMs?: number;
  readonly retryDelayMs?: number;
  readonly pool?: PoolOptions;
  readonly migrationsDir?: string;
  readonly readyTimeoutMs?: number;
  /** @default "0.0.0.0" */
  readonly listenHost?: string;
}

export interface RunningApp {
  readonly server: Server;
  readonly url: string;
  readonly tokens: TokenProvider;
  close(): Promise<void>;
}

export async function startApp(options: AppOptions): Promise<RunningApp> {
  const { config } = options;
  const logger = options.logger ?? jsonLogger();
  const migrations = shippedMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  const tokens = new TokenProvider({
    mint: options.mint ?? workspaceOAuthToken(config),
    logger,
    refreshMarginMs: options.refreshMarginMs,
    retryDelayMs: options.retryDelayMs,
  });
  // Not fatal when it fails: /health answers, /ready says why, and the provider keeps retrying.
  await tokens.start();
  const pool = createPool(config, tokens, logger, options.pool);
  const db = new Database(pool, tokens);
  const server = createServer(
    createHandler({ db, tokens, logger, migrations, readyTimeoutMs: options.readyTimeoutMs }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, options.listenHost ?? "0.0.0.0", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  logger.log("info", "listening", {
    port,
    database: `${config.database.host}:${config.database.port}/${config.database.name}`,
    database_user: config.database.user,
    expected_migration: migrations.at(-1)?.file ?? null,
  });

  return {
    server,
    url: `http://127.0.0.1:${port}`,
    tokens,
    async close() {
      tokens.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await db.end();
    },
  };
}
