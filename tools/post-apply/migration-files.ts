/**
 * The migration files: forward-only plain SQL named `NNNN_description.sql`, numbered consecutively from
 * 0001, in one directory. Any other `*.sql` name is an error (so a typo never silently skips a file);
 * files with other extensions, such as a README, are ignored.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { listProblems, StepError } from "./step-error";

export interface MigrationFile {
  /** The file name, which is also the migration's identity in the history table. */
  readonly name: string;
  readonly number: number;
  /** The path to show users: relative to the working directory when inside it. */
  readonly display: string;
  readonly sql: string;
  /** sha256 (hex) of the file's bytes. */
  readonly checksum: string;
}

const MIGRATION_NAME = /^(\d{4})_[A-Za-z0-9][A-Za-z0-9_-]*\.sql$/;

/** Reads and checks every migration in `dir`, in order. @throws StepError listing every naming problem. */
export function readMigrationFiles(dir: string): MigrationFile[] {
  const display = (name: string) => {
    const path = join(dir, name);
    const fromHere = relative(process.cwd(), path);
    return fromHere && !fromHere.startsWith("..") ? fromHere : path;
  };
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith(".sql")).map((e) => e.name);
  } catch {
    throw new StepError("migrations", `migrations directory ${display("")} does not exist or cannot be read`);
  }

  const problems: string[] = [];
  const numbered: { name: string; number: number }[] = [];
  for (const name of names) {
    const match = MIGRATION_NAME.exec(name);
    if (match) numbered.push({ name, number: Number(match[1]) });
    else problems.push(`${display(name)}: expected a name like 0001_create_notes.sql (4 digits, "_", letters, digits, "_" or "-"; no down migrations)`);
  }
  numbered.sort((a, b) => a.number - b.number);
  let previous: { name: string; number: number } | undefined;
  for (const file of numbered) {
    const expected = (previous?.number ?? 0) + 1;
    if (previous?.number === file.number) problems.push(`${display(file.name)}: number ${pad(file.number)} is already used by ${previous.name}`);
    else if (file.number !== expected) problems.push(`${display(file.name)}: expected number ${pad(expected)} (migrations are numbered consecutively from 0001)`);
    previous = file;
  }
  if (problems.length) throw new StepError("migrations", listProblems(problems));

  return numbered.map(({ name, number }) => {
    const bytes = readFileSync(join(dir, name));
    return { name, number, display: display(name), sql: bytes.toString("utf8"), checksum: createHash("sha256").update(bytes).digest("hex") };
  });
}

function pad(n: number): string {
  return String(n).padStart(4, "0");
}
