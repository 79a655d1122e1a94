/**
 * Splits a migration into its statements with PostgreSQL's own parser (libpg-query), before anything runs:
 * a syntax error is reported with file, line and column without touching the database, and a
 * transaction-control statement (BEGIN, COMMIT, SAVEPOINT...) is refused, because it would end the
 * transaction the migration runs in and leave it half-applied. Running statement by statement also lets a
 * runtime error name the line of the statement that failed, which PostgreSQL does not always give.
 */
import type { MigrationFile } from "../lib/migration-folder";
import { StepError } from "../lib/step-error";

export interface Statement {
  readonly text: string;
  /** Character offset of the statement's first token in the file. */
  readonly offset: number;
}

/** Loads the parser's WebAssembly once, only when there is something to parse (a no-op run never does). */
let parser: Promise<typeof import("libpg-query")> | undefined;
function loadParser() {
  parser ??= import("libpg-query").then(async (lib) => {
    await lib.loadModule();
    return lib;
  });
  return parser;
}

export async function splitStatements(file: MigrationFile): Promise<Statement[]> {
  const { parseSync, hasSqlDetails } = await loadParser();
  let raw: ReturnType<typeof parseSync>["stmts"];
  try {
    raw = /\S/.test(file.sql) ? (parseSync(file.sql).stmts ?? []) : [];
  } catch (error) {
    if (!hasSqlDetails(error) || !error.sqlDetails) throw error;
    const offset = utf16Offset(file.sql, error.sqlDetails.cursorPosition);
    throw new StepError("migrations", `${at(file, offset)}: ${error.sqlDetails.message}; nothing was applied`);
  }
  if (raw.length === 0) throw new StepError("migrations", `${file.display}: contains no SQL statement`);

  // The parser's locations count UTF-8 bytes; JavaScript strings count UTF-16 code units.
  const bytes = Buffer.from(file.sql, "utf8");
  return raw.map(({ stmt, stmt_location = 0, stmt_len }) => {
    const text = bytes.subarray(stmt_location, stmt_len ? stmt_location + stmt_len : undefined).toString("utf8");
    const statement = { text, offset: bytes.subarray(0, stmt_location).toString("utf8").length };
    if (stmt && "TransactionStmt" in stmt) {
      throw new StepError(
        "migrations",
        `${at(file, statement.offset)}: "${text.split("\n")[0]}" is not allowed: each migration already runs in its own transaction; nothing was applied`,
      );
    }
    return statement;
  });
}

/**
 * The JavaScript string offset of the `codePoints`-th code point of `text`: PostgreSQL and its parser count
 * characters as code points, which differ from UTF-16 units past the Basic Multilingual Plane (emoji).
 */
export function utf16Offset(text: string, codePoints: number): number {
  return Array.from(text).slice(0, codePoints).join("").length;
}

/** `file:line:column` of a string offset in the file, 1-based, the column counted in characters. */
export function at(file: MigrationFile, offset: number): string {
  const lines = file.sql.slice(0, offset).split("\n");
  return `${file.display}:${lines.length}:${Array.from(lines[lines.length - 1]).length + 1}`;
}
