/** How Terraform is run, and reading `terraform plan -json`'s stream (lines as Terraform 1.11 writes them, trimmed to the fields read). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorDiagnostics, planChangesNothing, runTerraform } from "../../tools/lib/terraform-cli";

const line = (message: object) => JSON.stringify({ "@level": "info", "@module": "terraform.ui", ...message });
const summary = (changes: Record<string, number>) =>
  line({ type: "change_summary", changes: { add: 0, change: 0, import: 0, remove: 0, ...changes, operation: "plan" } });
const drift = line({ type: "resource_drift", change: { resource: { addr: "databricks_app.app" }, action: "update" } });

test("a plan that counts nothing to add, change, import or destroy changes nothing, whatever drifted", () => {
  assert.equal(planChangesNothing([drift, summary({})].join("\n")), true);
  for (const count of ["add", "change", "import", "remove"])
    assert.equal(planChangesNothing([drift, summary({ [count]: 1 })].join("\n")), false, count);
});

test("a plan that printed no count (it failed, or crashed) is not taken to change nothing", () => {
  const failed = line({ type: "diagnostic", diagnostic: { severity: "error", summary: "failed to read app" } });
  assert.equal(planChangesNothing([drift, failed, "panic: not JSON"].join("\n")), false);
  assert.deepEqual(
    errorDiagnostics([drift, failed, "panic: not JSON"].join("\n")).map((d) => d.summary),
    ["failed to read app"],
  );
});

test("Terraform runs with Go's collector at GOGC=200 unless the user set GOGC", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "terraform-cli-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A stand-in for Terraform that says which GOGC it got.
  const binary = join(dir, "terraform");
  writeFileSync(binary, '#!/bin/sh\nprintf "%s" "${GOGC-unset}"\n');
  chmodSync(binary, 0o755);
  const gogc = async (env: NodeJS.ProcessEnv) =>
    (await runTerraform(["version"], { cwd: dir, env: { ...env, TERRAFORM_BINARY_NAME: binary } })).stdout;
  assert.equal(await gogc({}), "200");
  assert.equal(await gogc({ GOGC: "50" }), "50");
});
