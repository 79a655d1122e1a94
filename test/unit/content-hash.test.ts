import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { contentHash } from "../../stacks/content-hash";

const file = (path: string, content: string) => ({ path, content: Buffer.from(content) });
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

test("the hash of the documented manifest: `<path> NUL <sha256 of content> LF` per file, sorted by path", () => {
  assert.equal(
    contentHash([file("b.sql", "B"), file("a.sql", "A")]),
    sha256(`a.sql\0${sha256("A")}\nb.sql\0${sha256("B")}\n`),
  );
  assert.equal(contentHash([]), sha256(""));
});

test("independent of the order given; sensitive to where a path ends and its content begins", () => {
  assert.equal(contentHash([file("a", "1"), file("b", "2")]), contentHash([file("b", "2"), file("a", "1")]));
  assert.notEqual(contentHash([file("ab", "c")]), contentHash([file("a", "bc")]));
});
