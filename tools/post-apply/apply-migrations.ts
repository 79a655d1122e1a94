/**
 * Applies pending migrations in order, each in its own transaction, statement by statement, recording each
 * in the same transaction: after a failure, the failed migration left nothing behind and its history row
 * does not exist; the ones before it stay applied. Each starts from the same session state
 * (migration-session.ts), with its statements' waits bounded.
 */
import type pg from "pg";
import type { StatementBounds } from "../lib/post-apply-inputs";
import type { MigrationFile } from "../lib/migration-folder";
import { recordApplied } from "../lib/lakebase/migration-history";
import { AS_DEPLOYER, describeBoundHit, migrationSettings, resetSession } from "./migration-session";
import { at, type Statement, utf16Offset } from "./migration-statements";
import { messageOf, StepError } from "../lib/step-error";

export interface ParsedMigration {
  readonly file: MigrationFile;
  readonly statements: readonly Statement[];
}

/**
 * Expects the transaction `beginMigrating` opened, which the first migration joins, and leaves none open.
 * @throws StepError naming the file, the line and column, and the statement that failed.
 */
export async function applyMigrations(
  db: pg.Client,
  schema: string,
  bounds: StatementBounds,
  migrations: readonly ParsedMigration[],
  onApplied: (file: MigrationFile, ms: number) => void,
): Promise<void> {
  for (const [i, { file, statements }] of migrations.entries()) {
    const start = Date.now();
    await db.query(`${i > 0 ? "BEGIN; " : ""}${migrationSettings(schema, bounds)}`);
    for (const [n, statement] of statements.entries()) {
      try {
        await db.query(statement.text);
      } catch (error) {
        // PostgreSQL's position, when it gives one, is 1-based within the statement text sent.
        const position = Number((error as pg.DatabaseError).position);
        const offset = statement.offset + (position > 0 ? utf16Offset(statement.text, position - 1) : 0);
        const bound = describeBoundHit(error, bounds);
        throw new StepError(
          "migrate",
          `${at(file, offset)}: statement ${n + 1} of ${statements.length} failed: ${describeSqlError(error)}${bound ? `: ${bound}` : ""}; the migration was rolled back`,
          { cause: error },
        );
      }
    }
    try {
      await db.query(AS_DEPLOYER);
      await recordApplied(db, schema, file);
      await db.query("COMMIT");
    } catch (error) {
      throw new StepError("migrate", `${file.display}: ${describeSqlError(error)}; the migration was rolled back`, {
        cause: error,
      });
    }
    await resetSession(db);
    onApplied(file, Date.now() - start);
  }
}

/** PostgreSQL's message with its SQLSTATE and hint: what a user needs to fix the file. */
function describeSqlError(error: unknown): string {
  const { code, hint } = error as Partial<pg.DatabaseError>;
  return `${messageOf(error)}${code ? ` (SQLSTATE ${code})` : ""}${hint ? `; hint: ${hint}` : ""}`;
}
