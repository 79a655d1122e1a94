/**
 * The session state every migration starts from, whichever migrations ran before it in the same run: the
 * settings below, local to its transaction, and nothing that an earlier migration changed in the session
 * (a `SET search_path` in 0001 must not decide where 0002's tables land; a `SET ROLE` must not decide who
 * owns them, nor who writes the history row and grants afterwards).
 */
import pg from "pg";
import type { StatementBounds } from "../lib/post-apply-inputs";

/**
 * `DISCARD ALL` less its `pg_advisory_unlock_all()`, which would release the migration lock this session
 * holds: role and session user back to the login role (RESET ALL leaves a `SET ROLE` in place), every
 * setting back to its connection default, prepared statements, held cursors, LISTENs, cached plans, temporary
 * tables (which would shadow the app schema's) and sequence state gone.
 */
const RESET_SESSION =
  "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL; CLOSE ALL; UNLISTEN *; DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES";

/** Run after each migration's COMMIT, so the next one, and the grants after the last, start clean. */
export async function resetSession(db: pg.Client): Promise<void> {
  await db.query(RESET_SESSION);
}

/**
 * What each migration's transaction starts with: unqualified names resolve to the app schema alone, and
 * each statement's lock waits and run time are bounded. LOCAL, so they end with the transaction too.
 */
export function migrationSettings(schema: string, bounds: StatementBounds): string {
  return [
    `SET LOCAL search_path TO ${pg.escapeIdentifier(schema)}`,
    `SET LOCAL lock_timeout = '${bounds.lockTimeoutSeconds}s'`,
    `SET LOCAL statement_timeout = '${bounds.timeoutSeconds}s'`,
  ].join("; ");
}

/** The history row is written by the deployer, whatever role the migration switched to. */
export const AS_DEPLOYER = "SET LOCAL SESSION AUTHORIZATION DEFAULT";

/** Which bound stopped a migration statement, and the setting that raises it; undefined when none did. */
export function describeBoundHit(error: unknown, bounds: StatementBounds): string | undefined {
  const { code, message } = error as Partial<pg.DatabaseError>;
  if (code === "55P03" && /lock timeout/.test(message ?? "")) {
    return `it waited more than ${bounds.lockTimeoutSeconds} s for a lock another session (the app?) holds on what it changes (postApply.statementLockTimeoutSeconds); run again when that session lets go, or raise the bound`;
  }
  if (code === "57014" && /statement timeout/.test(message ?? "")) {
    return `it ran for more than ${bounds.timeoutSeconds} s (postApply.statementTimeoutSeconds); raise the bound if it needs longer`;
  }
  return undefined;
}
