/**
 * The fast path (`npm run plan`, `npm run deploy`, `npm run destroy`) and the `cdktf` CLI drive the same stacks
 * and the same state against the workspace emulator: their plans are identical (`terraform show -json`
 * resource_changes), and each sees what the other deployed as nothing to do.
 *
 * Every environment in environments/, its state in the test directory (STACK_TEST_STATE_DIR).
 */
import { after, before, test } from "node:test";
import { stripVTControlCharacters } from "node:util";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { environmentNames, environmentsDir, loadEnvironments } from "../../stacks/config/load-environments";
import { startDeployWorld, type DeployWorld } from "../../tools/lib/local/deploy-world";
import { outputOf } from "../../tools/lib/local/project";
import { providerUnavailable } from "../support/terraform";

const environments = loadEnvironments({ only: environmentNames(environmentsDir()) });

let world: DeployWorld;
let plans: string;

// Where the bootstrap could not get the provider, CI still runs this tier; these tests then skip, saying why.
const skip = providerUnavailable();

before(async () => {
  if (skip) return;
  world = await startDeployWorld(environments);
  plans = mkdtempSync(join(tmpdir(), "fast-path-plans-"));
});

after(async () => {
  if (plans) rmSync(plans, { recursive: true, force: true });
  await world?.stop();
});

/** `npm run <script> -- <args>` in the copy, as a user runs it (stdin: `input`, else nothing). */
function npm(script: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  return world.project.run("npm", ["run", "--silent", script, "--", ...args], options.env, options.input);
}

/**
 * The provider processes the fast path started (tools/lib/provider-server.ts: `terraform-provider-databricks… debug`)
 * that run in a directory under `dir`, with their command lines.
 */
function providersStartedIn(dir: string): string[] {
  return readdirSync("/proc").flatMap((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const mine = /terraform-provider-databricks/.test(argv[0]) && argv[1] === "debug";
      return mine && readlinkSync(`/proc/${pid}/cwd`).startsWith(dir) ? [argv.join(" ")] : [];
    } catch {
      return []; // not a process, or gone meanwhile
    }
  });
}

interface ResourceChange {
  address: string;
  change: { actions: string[] };
}

/** What `terraform show -json` says a plan file would do. */
function resourceChanges(env: string, planFile: string): ResourceChange[] {
  const show = world.project.terraform(env, ["show", "-json", planFile]);
  assert.equal(show.status, 0, outputOf(show));
  return (JSON.parse(show.stdout) as { resource_changes?: ResourceChange[] }).resource_changes ?? [];
}

/** The fast plan of `env`, saved with --out; asserts its exit code (0 no changes, 2 changes). */
function fastPlan(env: string, expectedStatus: 0 | 2): { changes: ResourceChange[]; stdout: string } {
  const result = npm("plan", [env, `--out=${plans}`]);
  assert.equal(result.status, expectedStatus, outputOf(result));
  return { changes: resourceChanges(env, join(plans, `${env}.tfplan`)), stdout: result.stdout };
}

/** The same plan the cdktf CLI's way: its synth, then Terraform in the stack directory it wrote. */
function cdktfPlan(env: string): ResourceChange[] {
  const synth = world.project.cdktf(["synth", env]);
  assert.equal(synth.status, 0, outputOf(synth));
  for (const args of [
    ["init", "-input=false"],
    ["plan", "-input=false", "-out=cdktf.tfplan"],
  ]) {
    const result = world.project.terraform(env, args);
    assert.equal(result.status, 0, outputOf(result));
  }
  return resourceChanges(env, "cdktf.tfplan");
}

const changed = (changes: readonly ResourceChange[]) =>
  changes.filter((c) => !c.change.actions.every((a) => a === "no-op" || a === "read"));

/** The `Plan: …` line of Terraform output, as `N to add, N to change, N to destroy`. */
const planLine = (text: string) =>
  /Plan: (\d+ to add, \d+ to change, \d+ to destroy)/.exec(stripVTControlCharacters(text))?.[1];

for (const config of environments) {
  const env = config.name;

  test(`${env}: before anything is deployed, the fast plan and cdktf's are the same plan`, { skip }, () => {
    const fast = fastPlan(env, 2);
    assert.deepEqual(fast.changes, cdktfPlan(env));
    assert.ok(
      changed(fast.changes).every((c) => c.change.actions.join() === "create"),
      JSON.stringify(fast.changes),
    );
    const diff = world.project.cdktf(["diff", env, "--skip-provider-lock"]);
    assert.equal(diff.status, 0, outputOf(diff));
    assert.match(
      fast.stdout,
      new RegExp(`^${env}\\s+${planLine(diff.stdout)}\\s`, "m"),
      `${outputOf(diff)}\n--- fast\n${fast.stdout}`,
    );
  });

  test(`${env}: the fast deploy applies the plan it shows, post-apply and release included; cdktf then sees no changes`, {
    skip,
  }, async () => {
    const result = npm("deploy", [env, "--auto-approve"]);
    assert.equal(result.status, 0, outputOf(result));
    assert.match(result.stdout, /Apply complete! Resources: \d+ added, 0 changed, 0 destroyed\./);
    // It started the provider itself (the package it checked is remembered), and the provider ended with it.
    assert.ok(
      existsSync(
        join(world.project.dir, "cdktf.out", "stacks", env, ".terraform", "databricks-app-stack.provider.json"),
      ),
    );
    assert.deepEqual(providersStartedIn(world.project.dir), [], "a provider the deploy started outlived it");
    const app = await world.emulator.api<{
      app_status?: { state?: string };
      active_deployment?: { deployment_id?: string };
    }>("GET", `/api/2.0/apps/${config.app.name}`);
    assert.equal(app.app_status?.state, "RUNNING", JSON.stringify(app));
    assert.ok(app.active_deployment?.deployment_id, JSON.stringify(app));
    const applied = await (await world.emulator.instancePostgres(config.lakebase.instanceName)).query(
      "SELECT count(*)::int AS n FROM post_apply.applied_migrations",
      [],
      config.database.name,
    );
    assert.ok(applied.rows[0].n > 0);

    const diff = world.project.cdktf(["diff", env, "--skip-provider-lock"]);
    assert.equal(diff.status, 0, outputOf(diff));
    assert.match(diff.stdout, /No changes/, outputOf(diff));
    assert.deepEqual(changed(fastPlan(env, 0).changes), []);
    const again = npm("deploy", [env, "--auto-approve"]);
    assert.equal(again.status, 0, outputOf(again));
    assert.match(again.stdout, new RegExp(`deploy: no changes in ${env}`));
    assert.deepEqual(providersStartedIn(world.project.dir), []);
  });

  test(`${env}: after edits both plan the same changes; cdktf deploys them and the fast plan sees none left`, {
    skip,
  }, () => {
    world.project.edit(`environments/${env}.yaml`, (text) => {
      const doc = parseDocument(text);
      doc.setIn(["app", "description"], `Edited for the fast path test (${env})`);
      return doc.toString();
    });
    world.project.edit("app-src/src/log.ts", (text) => `${text}// edited by the fast path test for ${env}\n`);
    const fast = fastPlan(env, 2);
    assert.ok(
      changed(fast.changes).some((c) => c.address.startsWith("databricks_app.")),
      JSON.stringify(changed(fast.changes)),
    );
    assert.deepEqual(fast.changes, cdktfPlan(env));

    const deploy = world.project.cdktf(["deploy", env, "--auto-approve", "--skip-provider-lock"]);
    assert.equal(deploy.status, 0, outputOf(deploy));
    assert.deepEqual(changed(fastPlan(env, 0).changes), []);
  });

  test(`${env}: a plan Terraform cannot make exits 1 and shows Terraform's error`, { skip }, () => {
    const result = npm("plan", [env], { env: { DATABRICKS_TOKEN: "not-the-workspace-token" } });
    assert.equal(result.status, 1, outputOf(result));
    assert.match(result.stdout, new RegExp(`^${env}\\s+plan failed`, "m"));
    assert.match(result.stdout, /Error: /);
  });

  if (config.production) {
    test(`${env}: destroy is refused for the instance and the catalog (prevent_destroy); nothing is destroyed`, {
      skip,
    }, async () => {
      const result = npm("destroy", [env, "--auto-approve"]);
      assert.equal(result.status, 1, outputOf(result));
      assert.match(result.stdout, /prevent_destroy/, outputOf(result));
      assert.match(result.stderr, /nothing applied, the plan of .* failed/);
      for (const path of [
        `/api/2.0/apps/${config.app.name}`,
        `/api/2.0/database/instances/${config.lakebase.instanceName}`,
        `/api/2.0/database/catalogs/${config.database.catalog}`,
      ]) {
        await world.emulator.api("GET", path);
      }
    });
  } else {
    test(`${env}: destroy asks first, and anything but yes destroys nothing`, { skip }, async () => {
      const declined = npm("destroy", [env], { input: "no\n" });
      assert.equal(declined.status, 1, outputOf(declined));
      assert.match(declined.stderr, /not confirmed, nothing applied/);
      await world.emulator.api("GET", `/api/2.0/apps/${config.app.name}`);
    });

    test(`${env}: yes destroys everything; cdktf then plans to create it all again`, { skip }, async () => {
      const result = npm("destroy", [env], { input: "yes\n" });
      assert.equal(result.status, 0, outputOf(result));
      assert.match(result.stdout, /Apply complete! Resources: 0 added, 0 changed, \d+ destroyed\./);
      for (const path of [
        `/api/2.0/apps/${config.app.name}`,
        `/api/2.0/database/instances/${config.lakebase.instanceName}`,
        `/api/2.0/database/catalogs/${config.database.catalog}`,
      ]) {
        await assert.rejects(world.emulator.api("GET", path), / -> 404: /, `${path} is still there`);
      }
      const diff = world.project.cdktf(["diff", env, "--skip-provider-lock"]);
      assert.equal(diff.status, 0, outputOf(diff));
      assert.match(planLine(diff.stdout) ?? "", /^\d+ to add, 0 to change, 0 to destroy$/, outputOf(diff));
    });
  }
}

test("terraform init runs when what it depends on changed, and only then", { skip }, () => {
  const env = environments[0].name;
  const stackDir = join(world.project.dir, "cdktf.out", "stacks", env);
  const fingerprint = join(stackDir, ".terraform", "databricks-app-stack.init.json");
  const plan = () => {
    const result = npm("plan", [env]);
    assert.ok(result.status === 0 || result.status === 2, outputOf(result));
  };
  plan();
  const initialized = statSync(fingerprint).mtimeMs;
  plan();
  assert.equal(statSync(fingerprint).mtimeMs, initialized, "init ran with nothing changed");

  rmSync(join(stackDir, ".terraform.lock.hcl"));
  plan();
  assert.ok(existsSync(join(stackDir, ".terraform.lock.hcl")), "init did not run after the lock file was removed");
  const reinitialized = statSync(fingerprint).mtimeMs;
  assert.notEqual(reinitialized, initialized);

  rmSync(join(stackDir, ".terraform"), { recursive: true });
  plan();
  assert.ok(existsSync(fingerprint), "init did not run after .terraform was removed");
});

test("user mistakes get one line and exit 1: an unknown environment, deploy without one, a bad option", {
  skip,
}, () => {
  for (const [script, args, message] of [
    ["plan", ["no-such-env"], /^plan: unknown environment "no-such-env"; known environments: /],
    ["deploy", [], /^deploy: name the environments to deploy \(known environments: /],
    [
      "destroy",
      [environments[0].name, "--lock=maybe"],
      /^destroy: --lock: expected true or false, found "maybe" \(--help for usage\)$/,
    ],
    ["plan", ["--auto-approve"], /^plan: --auto-approve: plan applies nothing/],
  ] as const) {
    const result = npm(script, args);
    assert.equal(result.status, 1, outputOf(result));
    assert.equal(result.stderr.trim().split("\n").length, 1, outputOf(result));
    assert.match(result.stderr.trim(), message);
  }
});

test("offline, the documented commands print no checkpoint error (the scripts turn the update check off)", {
  skip,
}, () => {
  const env = environments[0].name;
  const noSetting = { CHECKPOINT_DISABLE: "" };
  for (const result of [
    npm("plan", [env], { env: noSetting }),
    npm("cdktf", ["diff", env, "--skip-provider-lock"], { env: noSetting }),
  ]) {
    assert.ok(result.status === 0 || result.status === 2, outputOf(result));
    assert.doesNotMatch(`${result.stdout}${result.stderr}`, /checkpoint/i, outputOf(result));
  }
});
