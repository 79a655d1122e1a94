/**
 * The migrations directory, as every reader sees it (synth hashes it, the post-apply runner applies it, drift
 * and review compare it): forward-only plain SQL files named `NNNN_description.sql`, numbered consecutively
 * from 0001, UTF-8 without NUL bytes, plus optional Markdown notes (`*.md`). Every other entry — another
 * name, a symbolic link, a directory, a name in the wrong case — is an error naming it, so a typo never
 * silently skips a migration.
 */
import { createHash } from "node:crypto";
import { type Dirent, existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { listProblems } from "./list-problems";
import { StepError } from "./step-error";
import { UserError } from "./user-error";

export interface MigrationFile {
  /** The file name, which is also the migration's identity in the history table. */
  readonly name: string;
  readonly number: number;
  /** The path to show users: relative to the working directory when inside it. */
  readonly display: string;
  readonly bytes: Buffer;
  /** The file's text (valid UTF-8 without NUL bytes, checked). */
  readonly sql: string;
  /** sha256 (hex) of the file's bytes. */
  readonly checksum: string;
}

/** A migrations directory that breaks the rules; `message` lists every problem, one line each. */
export class MigrationFolderError extends UserError {
  constructor(readonly problems: readonly string[]) {
    super(listProblems(problems));
    this.name = "MigrationFolderError";
  }
}

export const MIGRATION_NAME = /^(\d{4})_[A-Za-z0-9][A-Za-z0-9_-]*\.sql$/;
/** Notes beside the migrations (a README): regular files, never read. */
const NOTE_NAME = /\.md$/;

const EXPECTED =
  'expected a regular file named like 0001_create_notes.sql (4 digits, "_", letters, digits, "_" or "-", ".sql" in lower case; no down migrations) or a Markdown note (*.md)';

/**
 * Reads and checks every entry of `dir`: the migrations in order. @throws MigrationFolderError listing every
 * problem with a name, a number or an entry's kind; when there are none, every problem with a file's encoding.
 */
export function readMigrationFolder(dir: string): MigrationFile[] {
  const display = (name: string) => {
    const path = join(dir, name);
    const fromHere = relative(process.cwd(), path);
    return fromHere && !fromHere.startsWith("..") ? fromHere : path;
  };
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    throw new MigrationFolderError([`migrations directory ${display("")} does not exist or cannot be read`]);
  }

  const problems: string[] = [];
  const numbered: { name: string; number: number }[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const match = MIGRATION_NAME.exec(entry.name);
    if (entry.isFile() && match) numbered.push({ name: entry.name, number: Number(match[1]) });
    else if (!(entry.isFile() && NOTE_NAME.test(entry.name)))
      problems.push(`${display(entry.name)}: ${kind(entry)}; ${EXPECTED}`);
  }
  numbered.sort((a, b) => a.number - b.number);
  let previous: { name: string; number: number } | undefined;
  for (const file of numbered) {
    const expected = (previous?.number ?? 0) + 1;
    if (previous?.number === file.number)
      problems.push(`${display(file.name)}: number ${pad(file.number)} is already used by ${previous.name}`);
    else if (file.number !== expected)
      problems.push(
        `${display(file.name)}: expected number ${pad(expected)} (migrations are numbered consecutively from 0001)`,
      );
    previous = file;
  }
  if (problems.length) throw new MigrationFolderError(problems);

  const files = numbered.map(({ name, number }): MigrationFile => {
    const bytes = readFileSync(join(dir, name));
    const sql = bytes.toString("utf8");
    const problem = encodingProblem(bytes, sql);
    if (problem) problems.push(`${display(name)}:${problem}`);
    return {
      name,
      number,
      display: display(name),
      bytes,
      sql,
      checksum: createHash("sha256").update(bytes).digest("hex"),
    };
  });
  if (problems.length) throw new MigrationFolderError(problems);
  return files;
}

/** The migrations of `dir` for synth and the review: a missing directory has none. @throws MigrationFolderError */
export function migrationFiles(dir: string): MigrationFile[] {
  return existsSync(dir) ? readMigrationFolder(dir) : [];
}

/**
 * The migrations of `dir` for the post-apply runner and drift, which need them to exist. @throws StepError
 * (step `migrations`) listing every problem.
 */
export function readMigrationFiles(dir: string): MigrationFile[] {
  try {
    return readMigrationFolder(dir);
  } catch (error) {
    if (error instanceof MigrationFolderError) throw new StepError("migrations", error.message);
    throw error;
  }
}

function kind(entry: Dirent): string {
  if (entry.isSymbolicLink()) return "a symbolic link";
  if (entry.isDirectory()) return "a directory";
  return entry.isFile() ? "an unexpected file name" : "not a regular file";
}

/**
 * `line:column: what` of the first byte that is not UTF-8 or is NUL (PostgreSQL and its parser read text up
 * to a NUL, so everything after one would be dropped without a word), 1-based, the column in characters.
 */
function encodingProblem(bytes: Buffer, text: string): string | undefined {
  let offset = 0;
  let line = 1;
  let column = 1;
  for (const char of text) {
    const code = char.codePointAt(0);
    // Decoding replaced each invalid sequence by U+FFFD; one that is really in the file is its own 3 bytes.
    if (code === 0xfffd && !(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) {
      return `${line}:${column}: invalid UTF-8 (byte 0x${bytes[offset].toString(16).padStart(2, "0")} at byte offset ${offset}); migrations must be UTF-8 text`;
    }
    if (code === 0)
      return `${line}:${column}: NUL byte at byte offset ${offset}; PostgreSQL would ignore everything after it`;
    offset += Buffer.byteLength(char, "utf8");
    if (char === "\n") [line, column] = [line + 1, 1];
    else column++;
  }
  return undefined;
}

function pad(n: number): string {
  return String(n).padStart(4, "0");
}
