/**
 * One runner at a time per app schema: a session-level PostgreSQL advisory lock, held until the runner
 * disconnects (so a crashed runner never leaves it behind). Waiting is bounded by the lock timeout, after
 * which the error names who holds the lock.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { StepError } from "../lib/step-error";

/** First half of the two-int advisory lock key: "this is a post-apply lock" (ASCII "PA"). */
const LOCK_NAMESPACE = 0x5041;

/** The advisory lock key for a schema: `pg_advisory_lock(namespace, id)`; exported for tests that hold it. */
export function migrationLockKey(schema: string): readonly [number, number] {
  return [LOCK_NAMESPACE, createHash("sha256").update(schema).digest().readInt32BE(0) & 0x7fffffff];
}

export async function acquireMigrationLock(
  db: pg.Client,
  schema: string,
  timeoutSeconds: number,
  onWait: () => void,
): Promise<void> {
  const [namespace, id] = migrationLockKey(schema);
  const { rows } = await db.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS locked", [
    namespace,
    id,
  ]);
  if (rows[0].locked) return;

  onWait();
  try {
    // lock_timeout bounds the wait; both numbers are ours, so the multi-statement text needs no parameters.
    await db.query(
      `SET lock_timeout = '${timeoutSeconds}s'; SELECT pg_advisory_lock(${namespace}, ${id}); RESET lock_timeout`,
    );
  } catch (error) {
    if ((error as pg.DatabaseError).code !== "55P03") throw error;
    throw new StepError(
      "lock",
      `another post-apply runner has held the migration lock of schema "${schema}" for more than ${timeoutSeconds} s (lock timeout)${await describeHolder(db, namespace, id)}; let it finish or stop it, then run again`,
    );
  }
}

async function describeHolder(db: pg.Client, namespace: number, id: number): Promise<string> {
  const { rows } = await db.query<{
    pid: number;
    usename: string | null;
    application_name: string | null;
    backend_start: Date | null;
  }>(
    `SELECT a.pid, a.usename, a.application_name, a.backend_start
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = $1::int::oid AND l.objid = $2::int::oid AND l.objsubid = 2`,
    [namespace, id],
  );
  const holder = rows[0];
  if (!holder) return "";
  const who = [
    holder.usename && `role ${holder.usename}`,
    holder.application_name && `application "${holder.application_name}"`,
    holder.backend_start && `connected since ${holder.backend_start.toISOString()}`,
  ];
  return `: held by process ${holder.pid} (${who.filter(Boolean).join(", ")})`;
}
