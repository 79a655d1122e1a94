/**
 * Tests derive "every environment" from environments/ (test/support/environments.ts, or the loader): a test
 * that spells the shipped list out fails as soon as an environment is added, though the product is fine.
 * Running the whole suite with an extra environment would find that too, at the price of a second `npm test`;
 * this finds the usual shape of it in milliseconds: one line of a test that names every shipped environment.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { SHIPPED_ENVIRONMENTS } from "../support/environments";

const TEST_DIR = join(REPO_ROOT, "test");

test("no test spells out the list of shipped environments", {
  skip: SHIPPED_ENVIRONMENTS.length < 2 && "with one environment, any line naming it would be a list",
}, () => {
  // A name as a word of its own: `dev`, "dev", dev.yaml; not notes-dev or production.
  const named = SHIPPED_ENVIRONMENTS.map((name) => new RegExp(`(?<![\\w-])${name}(?![\\w-])`));
  const lists = readdirSync(TEST_DIR, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .flatMap((entry) => {
      const file = join(entry.parentPath, entry.name);
      return readFileSync(file, "utf8")
        .split("\n")
        .flatMap((line, i) =>
          named.every((name) => name.test(line)) ? [`${relative(REPO_ROOT, file)}:${i + 1}: ${line.trim()}`] : [],
        );
    });
  assert.deepEqual(lists, [], "derive the list from environments/ (test/support/environments.ts) instead");
});
