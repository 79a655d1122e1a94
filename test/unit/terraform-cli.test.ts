import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTerraform } from "../../tools/lib/terraform-cli";

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
