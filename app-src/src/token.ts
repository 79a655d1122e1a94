/**
 * The Postgres password: the app service principal's workspace OAuth token.
 *
 * Lakebase accepts a workspace OAuth token of the role's identity as the password and checks its expiry
 * only at login, so open connections outlive it; new connections need a current token. The provider
 * mints one with the client-credentials grant, refreshes it in the background `refreshMarginMs` before
 * it expires, and hands the cached token to every new connection, so no request waits for a refresh.
 * A failed refresh is logged and kept in `status()` (the /ready check reports it) and retried every
 * `retryDelayMs`; until the old token expires new connections keep using it.
 */
import { errorFields, type Logger } from "./log.js";

export interface MintedToken {
  readonly token: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export type MintToken = () => Promise<MintedToken>;

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenError";
  }
}

/**
 * Workspace OAuth M2M: `POST {workspace}/oidc/v1/token` with `grant_type=client_credentials&scope=all-apis`
 * and the client id/secret as HTTP Basic credentials. Error messages carry the status and the OAuth error
 * code/description, never the credentials.
 */
export function workspaceOAuthToken(options: {
  workspaceUrl: string;
  clientId: string;
  clientSecret: string;
  fetch?: typeof fetch;
  now?: () => number;
  timeoutMs?: number;
}): MintToken {
  const { workspaceUrl, clientId, clientSecret, fetch: doFetch = fetch, now = Date.now, timeoutMs = 10_000 } = options;
  const endpoint = `${workspaceUrl}/oidc/v1/token`;
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64");
  return async () => {
    const requestedAt = now();
    let response: Response;
    try {
      response = await doFetch(endpoint, {
        method: "POST",
        headers: {
          Authorization: `Basic ${basic}`,
          "Content-Type": "application/x-www-form-urlencoded",
          Accept: "application/json",
        },
        body: new URLSearchParams({ grant_type: "client_credentials", scope: "all-apis" }).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new TokenError(`token request to ${endpoint} failed: ${errorFields(error).error}`);
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object") body = parsed as Record<string, unknown>;
    } catch {
      // Not JSON: described by the status below.
    }
    if (!response.ok) {
      const reason = [body.error, body.error_description].filter((v) => typeof v === "string" && v).join(": ");
      throw new TokenError(
        `token request to ${endpoint} returned HTTP ${response.status}${reason ? ` (${reason})` : ""}`,
      );
    }
    const { access_token: token, expires_in: expiresIn } = body;
    if (typeof token !== "string" || !token || typeof expiresIn !== "number" || !(expiresIn > 0)) {
      throw new TokenError(`token response from ${endpoint} has no access_token/expires_in`);
    }
    // Counted from when the request was sent, so the local expiry is never later than the server's.
    return { token, expiresAt: requestedAt + expiresIn * 1000 };
  };
}

export interface TokenStatus {
  readonly ok: boolean;
  /** ISO time the current token expires, if there is one. */
  readonly expiresAt?: string;
  /** The last refresh failure, cleared by the next success. */
  readonly lastError?: { readonly message: string; readonly at: string };
}

export interface TokenProviderOptions {
  mint: MintToken;
  logger: Logger;
  /** Refresh this long before expiry (capped at half the token's lifetime). @default 10 minutes */
  refreshMarginMs?: number;
  /** Retry a failed refresh after this long. @default 15 seconds */
  retryDelayMs?: number;
  now?: () => number;
}

export class TokenProvider {
  private current?: MintedToken & { readonly refreshAt: number; readonly receivedAt: number };
  private inFlight?: Promise<MintedToken>;
  private lastError?: { message: string; at: number };
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly mint: MintToken;
  private readonly logger: Logger;
  private readonly refreshMarginMs: number;
  private readonly retryDelayMs: number;
  private readonly now: () => number;

  constructor(options: TokenProviderOptions) {
    this.mint = options.mint;
    this.logger = options.logger;
    this.refreshMarginMs = options.refreshMarginMs ?? 10 * 60_000;
    this.retryDelayMs = options.retryDelayMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  /** The first token; a failure is logged, reported and retried in the background, not thrown. */
  async start(): Promise<void> {
    await this.refresh().catch(() => {});
  }

  /**
   * A token valid for a new login now (the `password` callback of the pool). Without one, mints on demand,
   * but at most once per `retryDelayMs` after a failure: an outage fails logins fast instead of sending
   * one token request per connection attempt.
   */
  async get(): Promise<string> {
    const current = this.current;
    const now = this.now();
    if (current && now < current.expiresAt) {
      // In the refresh window with no failure yet (the timer is late): refresh, keep using the valid token.
      if (now >= current.refreshAt && !this.lastError) void this.refresh().catch(() => {});
      return current.token;
    }
    if (this.lastError && now - this.lastError.at < this.retryDelayMs && !this.inFlight) {
      throw new TokenError(`no valid database token (last refresh failed: ${this.lastError.message})`);
    }
    return (await this.refresh()).token;
  }

  /**
   * After a login was refused with a token this provider handed out (clock skew, a rotation racing the
   * login): whether another token is worth one retry. Yes if a newer token arrived since the attempt began
   * or is on its way, or after minting one, unless the cached token is younger than `retryDelayMs` (then the refusal is not
   * about its age, and minting on every request would only hammer the token endpoint).
   */
  async renewAfterRefusedLogin(attemptStartedAt: number): Promise<boolean> {
    const current = this.current;
    if (current && current.receivedAt >= attemptStartedAt) return true;
    if (this.inFlight)
      return this.inFlight.then(
        () => true,
        () => false,
      );
    if (current && this.now() - current.receivedAt < this.retryDelayMs) return false;
    await this.refresh();
    return true;
  }

  status(): TokenStatus {
    const expiresAt = this.current ? new Date(this.current.expiresAt).toISOString() : undefined;
    const lastError = this.lastError && {
      message: this.lastError.message,
      at: new Date(this.lastError.at).toISOString(),
    };
    const usable = this.current !== undefined && this.now() < this.current.expiresAt;
    return { ok: usable && !lastError, ...(expiresAt && { expiresAt }), ...(lastError && { lastError }) };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One refresh at a time; every caller during a refresh shares its result. */
  private refresh(): Promise<MintedToken> {
    this.inFlight ??= this.mintAndSchedule().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async mintAndSchedule(): Promise<MintedToken> {
    const startedAt = this.now();
    try {
      const minted = await this.mint();
      const lifetime = minted.expiresAt - startedAt;
      const refreshAt = minted.expiresAt - Math.min(this.refreshMarginMs, lifetime / 2);
      this.current = { ...minted, refreshAt, receivedAt: this.now() };
      const recovered = this.lastError !== undefined;
      this.lastError = undefined;
      this.logger.log("info", "database token refreshed", {
        expires_at: new Date(minted.expiresAt).toISOString(),
        next_refresh_at: new Date(refreshAt).toISOString(),
        ...(recovered && { recovered: true }),
      });
      this.schedule(refreshAt - this.now());
      return minted;
    } catch (error) {
      const { error: message } = errorFields(error);
      this.lastError = { message, at: this.now() };
      const current = this.current;
      this.logger.log("error", "database token refresh failed", {
        error: message,
        retry_in_ms: this.retryDelayMs,
        current_token_expires_at: current ? new Date(current.expiresAt).toISOString() : null,
      });
      this.schedule(this.retryDelayMs);
      throw error;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh().catch(() => {}), Math.max(0, delayMs));
    this.timer.unref();
  }
}
