/**
 * inStep: what goes wrong outside this code is a failure of the step, reported in one line; a bug keeps its
 * own error, so the command-line harness prints its stack trace and exits 70.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { inStep, StepError } from "../../tools/lib/step-error";

test("a dropped connection or a refused statement is a failure of the step, with the error as its cause", async () => {
  const dropped = new Error("Connection terminated unexpectedly");
  const refused = Object.assign(new Error('permission denied for schema "app"'), { code: "42501" });
  // Node's fetch, the workspace API unreachable: a TypeError only in name.
  const unreachable = new TypeError("fetch failed", {
    cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:443"), { code: "ECONNREFUSED" }),
  });
  for (const error of [dropped, refused, unreachable]) {
    const failure = await inStep("grant", () => Promise.reject(error)).catch((e: unknown) => e);
    assert.ok(failure instanceof StepError, String(failure));
    assert.equal(failure.step, "grant");
    assert.equal(failure.message, error.message);
    assert.equal(failure.cause, error);
  }
});

test("a bug is thrown as it is, not turned into a step's failure", async () => {
  const bugs = [
    new TypeError("Cannot read properties of undefined (reading 'rows')"),
    new RangeError("Invalid array length"),
    new assert.AssertionError({ message: "expected a role" }),
  ];
  for (const bug of bugs) {
    await assert.rejects(
      inStep("migrations", () => Promise.reject(bug)),
      (thrown) => thrown === bug,
    );
  }
});

test("a step's own failure passes through with its own step", async () => {
  const own = new StepError("lock", "another deploy holds the lock");
  await assert.rejects(
    inStep("migrations", () => Promise.reject(own)),
    (thrown) => thrown === own,
  );
});
