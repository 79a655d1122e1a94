/**
 * The migrations directory's rules, which synth (the migrations hash) and the post-apply runner share:
 * every entry is a migration, a Markdown note or an error naming it; every migration is UTF-8 without NUL
 * bytes, or an error with its line, column and byte offset.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrationsSha256 } from "../../stacks/post-apply/migrations";
import { MigrationFolderError, readMigrationFolder } from "../../tools/lib/migration-folder";

/** A temporary migrations directory holding `files` (text or bytes), removed after the test. */
function folder(t: TestContext, files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

function problems(dir: string): readonly string[] {
  try {
    readMigrationFolder(dir);
  } catch (error) {
    if (error instanceof MigrationFolderError) return error.problems;
    throw error;
  }
  assert.fail("expected a MigrationFolderError, the directory was accepted");
}

const EXPECTED =
  /; expected a regular file named like 0001_create_notes\.sql \(4 digits, .*"\.sql" in lower case; no down migrations\) or a Markdown note \(\*\.md\)$/;

test("migrations in number order, with Markdown notes beside them that are not migrations", (t) => {
  const dir = folder(t, {
    "0002_b.sql": "SELECT 2;",
    "0001_a.sql": "SELECT 1;",
    "README.md": "# notes",
    "0003-draft.md": "ideas",
  });
  const files = readMigrationFolder(dir);
  assert.deepEqual(
    files.map((f) => [f.name, f.number, f.sql]),
    [
      ["0001_a.sql", 1, "SELECT 1;"],
      ["0002_b.sql", 2, "SELECT 2;"],
    ],
  );
});

test("every entry that is neither a migration nor a note is an error naming it and what was expected, all at once", (t) => {
  const dir = folder(t, {
    "0001_a.sql": "SELECT 1;",
    "0002_b.SQL": "SELECT 2;",
    "0002_c.sql.bak": "SELECT 2;",
    "notes.txt": "",
    ".0002_hidden.sql": "SELECT 2;",
  });
  mkdirSync(join(dir, "0003_dir.sql"));
  mkdirSync(join(dir, "docs.md"));
  symlinkSync(join(dir, "0001_a.sql"), join(dir, "0004_link.sql"));
  symlinkSync(join(dir, "notes.txt"), join(dir, "LINK.md"));
  const found = problems(dir);
  const byEntry = Object.fromEntries(
    found.map((p) => [p.slice(dir.length + 1, p.indexOf(":")), p.slice(p.indexOf(":") + 2)]),
  );
  assert.deepEqual(Object.keys(byEntry).sort(), [
    ".0002_hidden.sql",
    "0002_b.SQL",
    "0002_c.sql.bak",
    "0003_dir.sql",
    "0004_link.sql",
    "LINK.md",
    "docs.md",
    "notes.txt",
  ]);
  for (const [entry, problem] of Object.entries(byEntry)) assert.match(problem, EXPECTED, entry);
  assert.match(byEntry["0002_b.SQL"], /^an unexpected file name;/);
  assert.match(byEntry["0003_dir.sql"], /^a directory;/);
  assert.match(byEntry["docs.md"], /^a directory;/);
  assert.match(byEntry["0004_link.sql"], /^a symbolic link;/);
  assert.match(byEntry["LINK.md"], /^a symbolic link;/);
});

test("numbering: consecutive from 0001, each number once", (t) => {
  assert.deepEqual(
    problems(folder(t, { "0002_b.sql": "SELECT 1;" })).map((p) => p.split(": ")[1]),
    ["expected number 0001 (migrations are numbered consecutively from 0001)"],
  );
  assert.deepEqual(
    problems(folder(t, { "0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;" })).map((p) => p.split(": ")[1]),
    ["number 0001 is already used by 0001_a.sql"],
  );
  const missing = join(tmpdir(), "no-such-migrations-dir");
  assert.deepEqual(problems(missing), [`migrations directory ${missing} does not exist or cannot be read`]);
});

test("a NUL byte is an error at its line, column and byte offset: PostgreSQL would drop everything after it", (t) => {
  const sql = Buffer.concat([
    Buffer.from("CREATE TABLE a (id int);\n-- café\nSELECT 1;"),
    Buffer.from([0]),
    Buffer.from("CREATE TABLE b (id int);\n"),
  ]);
  const dir = folder(t, { "0001_a.sql": sql });
  // Line 3, after "SELECT 1;" (9 characters); byte 25 + 9 ("-- café\n", é being 2 bytes) + 9.
  assert.deepEqual(problems(dir), [
    `${join(dir, "0001_a.sql")}:3:10: NUL byte at byte offset 43; PostgreSQL would ignore everything after it`,
  ]);
  assert.match(
    problems(folder(t, { "0001_a.sql": Buffer.from([0]) }))[0],
    /0001_a\.sql:1:1: NUL byte at byte offset 0;/,
  );
});

test("bytes that are not UTF-8 are an error at the first bad byte, the column counted in characters", (t) => {
  const cases: [string, Buffer, string][] = [
    [
      "Latin-1 text",
      Buffer.from("INSERT INTO t VALUES ('caf\xe9');\n", "latin1"),
      "1:27: invalid UTF-8 (byte 0xe9 at byte offset 26)",
    ],
    [
      "a stray continuation byte after an emoji",
      Buffer.concat([Buffer.from("-- x\nSELECT '💥'; -- "), Buffer.from([0x80])]),
      "2:16: invalid UTF-8 (byte 0x80 at byte offset 23)",
    ],
    [
      "a sequence cut short at the end",
      Buffer.concat([Buffer.from("SELECT 1; -- "), Buffer.from([0xe2, 0x82])]),
      "1:14: invalid UTF-8 (byte 0xe2 at byte offset 13)",
    ],
    [
      "an overlong encoding of /",
      Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xc0, 0xaf]), Buffer.from("';")]),
      "1:9: invalid UTF-8 (byte 0xc0 at byte offset 8)",
    ],
    [
      "an encoded UTF-16 surrogate",
      Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from("';")]),
      "1:9: invalid UTF-8 (byte 0xed at byte offset 8)",
    ],
    [
      "a bad sequence after a real U+FFFD",
      Buffer.concat([Buffer.from("SELECT '\ufffd"), Buffer.from([0xff]), Buffer.from("';")]),
      "1:10: invalid UTF-8 (byte 0xff at byte offset 11)",
    ],
  ];
  for (const [name, bytes, where] of cases) {
    const dir = folder(t, { "0001_a.sql": bytes });
    assert.deepEqual(problems(dir), [`${join(dir, "0001_a.sql")}:${where}; migrations must be UTF-8 text`], name);
  }
  // A replacement character that is really in the file is text like any other.
  assert.equal(readMigrationFolder(folder(t, { "0001_a.sql": "SELECT '\ufffd';" }))[0].sql, "SELECT '\ufffd';");
});

test("encoding problems of several files are reported together; naming problems alone, when there are any", (t) => {
  const dir = folder(t, { "0001_a.sql": Buffer.from([0]), "0002_b.sql": Buffer.from([0xff]) });
  assert.deepEqual(
    problems(dir).map((p) => p.slice(dir.length + 1)),
    [
      "0001_a.sql:1:1: NUL byte at byte offset 0; PostgreSQL would ignore everything after it",
      "0002_b.sql:1:1: invalid UTF-8 (byte 0xff at byte offset 0); migrations must be UTF-8 text",
    ],
  );
  writeFileSync(join(dir, "0003_c.Sql"), "SELECT 3;");
  assert.deepEqual(
    problems(dir).map((p) => p.slice(dir.length + 1, p.indexOf(";"))),
    ["0003_c.Sql: an unexpected file name"],
  );
});

test("synth hashes the migrations by the same rules: a directory the runner would refuse fails synth", (t) => {
  const cases: Record<string, Record<string, string | Buffer>> = {
    "upper-case extension": { "0001_a.sql": "SELECT 1;", "0002_b.SQL": "SELECT 2;" },
    "NUL byte": { "0001_a.sql": Buffer.from("SELECT 1;\0SELECT 2;") },
    "not UTF-8": { "0001_a.sql": Buffer.from([0xff]) },
    gap: { "0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 3;" },
  };
  for (const [name, files] of Object.entries(cases))
    assert.throws(() => migrationsSha256(folder(t, files)), MigrationFolderError, name);
  const dir = folder(t, { "0001_a.sql": "SELECT 1;" });
  symlinkSync(join(dir, "0001_a.sql"), join(dir, "0002_b.sql"));
  assert.throws(() => migrationsSha256(dir), /0002_b\.sql: a symbolic link; expected a regular file/);
});
