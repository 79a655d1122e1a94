/**
 * Applies pending migrations in order, each in its own transaction, statement by statement, recording each
 * in the same transaction: after a failure, the failed migration left nothing behind and its history row
 * does not exist; the ones before it stay applied.
 */
import type pg from "pg";
import type { MigrationFile } from "./migration-files";
import { recordApplied } from "./migration-history";
import { at, type Statement, utf16Offset } from "./migration-statements";
import { messageOf, StepError } from "./step-error";

export interface ParsedMigration {
  readonly file: MigrationFile;
  readonly statements: readonly Statement[];
}

/**
 * Expects the transaction `beginMigrating` opened, which the first migration joins, and leaves none open.
 * @throws StepError naming the file, the line and column, and the statement that failed.
 */
export async function applyMigrations(db: pg.Client, schema: string, migrations: readonly ParsedMigration[], onApplied: (file: MigrationFile, ms: number) => void): Promise<void> {
  for (const [i, { file, statements }] of migrations.entries()) {
    const start = Date.now();
    if (i > 0) await db.query("BEGIN");
    for (const [n, statement] of statements.entries()) {
      try {
        await db.query(statement.text);
      } catch (error) {
        // PostgreSQL's position, when it gives one, is 1-based within the statement text sent.
        const position = Number((error as pg.DatabaseError).position);
        const offset = statement.offset + (position > 0 ? utf16Offset(statement.text, position - 1) : 0);
        throw new StepError("migrate", `${at(file, offset)}: statement ${n + 1} of ${statements.length} failed: ${describeSqlError(error)}; the migration was rolled back`, { cause: error });
      }
    }
    try {
      await recordApplied(db, schema, file);
      await db.query("COMMIT");
    } catch (error) {
      throw new StepError("migrate", `${file.display}: ${describeSqlError(error)}; the migration was rolled back`, { cause: error });
    }
    onApplied(file, Date.now() - start);
  }
}

/** PostgreSQL's message with its SQLSTATE and hint: what a user needs to fix the file. */
function describeSqlError(error: unknown): string {
  const { code, hint } = error as Partial<pg.DatabaseError>;
  return `${messageOf(error)}${code ? ` (SQLSTATE ${code})` : ""}${hint ? `; hint: ${hint}` : ""}`;
}
