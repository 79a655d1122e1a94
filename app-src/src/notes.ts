/** The notes resource: app.notes, created by migrations/0001_create_notes.sql. */
import type { Database } from "./db.js";

export const MAX_NOTE_LENGTH = 10_000;
/** GET /api/notes returns at most this many notes, newest first. */
export const LIST_LIMIT = 100;

export interface Note {
  /** bigint in the database, a string in JSON so it never loses precision. */
  readonly id: string;
  readonly text: string;
  readonly createdAt: string;
}

interface NoteRow {
  id: string;
  body: string;
  created_at: Date;
}

const toNote = (row: NoteRow): Note => ({ id: row.id, text: row.body, createdAt: row.created_at.toISOString() });

export async function createNote(db: Database, authorEmail: string, text: string): Promise<Note> {
  const { rows } = await db.query<NoteRow>(
    "INSERT INTO app.notes (author_email, body) VALUES ($1, $2) RETURNING id, body, created_at",
    [authorEmail, text],
  );
  return toNote(rows[0]);
}

export async function listNotes(db: Database, authorEmail: string): Promise<Note[]> {
  const { rows } = await db.query<NoteRow>(
    "SELECT id, body, created_at FROM app.notes WHERE author_email = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    [authorEmail, LIST_LIMIT],
  );
  return rows.map(toNote);
}
