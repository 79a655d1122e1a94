import { createHash } from "node:crypto";

/** A file as it is uploaded or applied: its path (posix, relative to a known root) and its bytes. */
export interface FileContent {
  readonly path: string;
  readonly content: Buffer;
}

/**
 * sha256 (hex) of a set of files, independent of the order given: the hash of the manifest made of one line
 * `<path> NUL <sha256 of content> LF` per file, sorted by path. A rename, an edit, an added or a removed file
 * all change it; other tools reproduce it from the same definition.
 */
export function contentHash(files: readonly FileContent[]): string {
  const hash = createHash("sha256");
  for (const file of [...files].sort((a, b) => compareStrings(a.path, b.path))) {
    hash.update(`${file.path}\0${sha256(file.content)}\n`);
  }
  return hash.digest("hex");
}

const digests = new WeakMap<Buffer, string>();

/**
 * sha256 (hex) of `content`, computed once per Buffer: the stacks of one synthesis share the buffers of the
 * files they read once (oncePerApp) and never write to, so hashing N environments' sources costs about one.
 */
function sha256(content: Buffer): string {
  let digest = digests.get(content);
  if (digest === undefined) {
    digest = createHash("sha256").update(content).digest("hex");
    digests.set(content, digest);
  }
  return digest;
}

/** Code-unit order, so a listing sorts the same on every machine (no locale collation). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
