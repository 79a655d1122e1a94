-- Notes written through the app, one row per note, keyed by the author's email (X-Forwarded-Email).
-- bigserial rather than an identity column on purpose: an identity column's sequence is used without a
-- privilege check, a serial column's is not, so the app role's sequence grants are exercised on every insert.
CREATE TABLE app.notes (
    id           bigserial   PRIMARY KEY,
    author_email text        NOT NULL CHECK (length(author_email) BETWEEN 3 AND 320),
    body         text        NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- GET /api/notes lists one author's notes, newest first.
CREATE INDEX notes_author_email_created_at_idx ON app.notes (author_email, created_at DESC, id DESC);
