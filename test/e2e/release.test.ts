/**
 * The release step (`tools/post-apply/main.ts release`, as the release terraform_data runs it) against the
 * workspace emulator: source sync, compute start, deployments that succeed, fail or are already in progress.
 * Each test gets an app of its own, created the way the provider creates it.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appSourceFiles, appSourceSha256 } from "../../stacks/source/app-source-files";
import { MANIFEST_FILE } from "../../tools/post-apply/source-sync";
import { type Emulator, startEmulator } from "../../tools/lib/local/emulator";
import { runToolAgainst } from "../support/emulator";
import { FIXTURE_SOURCE_DIR } from "../support/synth";

let emulator: Emulator;
let work: string;

before(async () => {
  emulator = await startEmulator({ appDelayMs: 200 });
  work = mkdtempSync(join(tmpdir(), "release-"));
});

after(async () => {
  rmSync(work, { recursive: true, force: true });
  await emulator?.stop();
});

interface App {
  compute_status?: { state?: string };
  app_status?: { state?: string };
  active_deployment?: { deployment_id?: string };
  pending_deployment?: { deployment_id?: string };
}
interface Deployment {
  deployment_id: string;
  status?: { state?: string; message?: string };
}

let apps = 0;
/** A new app (compute ACTIVE, nothing deployed) and a copy of the fixture app source for it. */
async function newApp(): Promise<{ name: string; dir: string; workspacePath: string }> {
  const name = `release-test-${++apps}`;
  await emulator.api("POST", "/api/2.0/apps", { name, description: "" });
  const dir = join(work, name);
  cpSync(FIXTURE_SOURCE_DIR, dir, { recursive: true });
  return { name, dir, workspacePath: `/Shared/apps/${name}` };
}

/** The variables the release step's local-exec sets; the planned hash is the tree's as it is unless `env` says otherwise. */
function releaseEnv(
  app: { name: string; dir: string; workspacePath: string },
  env: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    POST_APPLY_APP_NAME: app.name,
    POST_APPLY_SOURCE_DIR: app.dir,
    POST_APPLY_WORKSPACE_PATH: app.workspacePath,
    POST_APPLY_SOURCE_SHA256: appSourceSha256(
      app.dir,
      env.POST_APPLY_APP_ENV ? JSON.parse(env.POST_APPLY_APP_ENV) : {},
    ),
    POST_APPLY_RELEASE_TIMEOUT_SECONDS: "60",
    ...env,
  };
}

/** Runs the release as Terraform's local-exec does. */
const release = (app: { name: string; dir: string; workspacePath: string }, env: NodeJS.ProcessEnv = {}) =>
  runToolAgainst(emulator, "tools/post-apply/main.ts", ["release"], releaseEnv(app, env));

const readApp = (name: string) => emulator.api<App>("GET", `/api/2.0/apps/${name}`);
const deployments = async (name: string) =>
  (await emulator.api<{ app_deployments?: Deployment[] }>("GET", `/api/2.0/apps/${name}/deployments`))
    .app_deployments ?? [];
const exportFile = async (path: string) =>
  Buffer.from(
    (
      await emulator.api<{ content: string }>(
        "GET",
        `/api/2.0/workspace/export?format=RAW&path=${encodeURIComponent(path)}`,
      )
    ).content,
    "base64",
  ).toString("utf8");

test("a first release uploads every file, deploys it and ends with the app RUNNING that deployment", async () => {
  const app = await newApp();
  const { status, output } = release(app);
  assert.equal(status, 0, output);
  const files = appSourceFiles(app.dir);
  assert.match(output, new RegExp(`source +${files.length} of ${files.length} files uploaded, 0 deleted`));
  const [deployment, ...older] = await deployments(app.name);
  assert.deepEqual(older, []);
  assert.equal(deployment.status?.state, "SUCCEEDED");
  const info = await readApp(app.name);
  assert.equal(info.app_status?.state, "RUNNING");
  assert.equal(info.active_deployment?.deployment_id, deployment.deployment_id);
  for (const file of files)
    assert.equal(await exportFile(`${app.workspacePath}/${file}`), readLocal(app.dir, file), file);
});

test("the next release uploads only the changed file and deletes the removed one", async () => {
  const app = await newApp();
  assert.equal(release(app).status, 0);
  const [changed, removed] = appSourceFiles(app.dir).filter((f) => f !== "app.yaml");
  writeFileSync(join(app.dir, changed), "// changed\n");
  rmSync(join(app.dir, removed));

  const { status, output } = release(app);
  assert.equal(status, 0, output);
  assert.match(output, /source +1 of \d+ files uploaded, 1 deleted/);
  assert.equal(await exportFile(`${app.workspacePath}/${changed}`), "// changed\n");
  await assert.rejects(exportFile(`${app.workspacePath}/${removed}`), / -> 404: /);
  assert.equal((await deployments(app.name)).length, 2);
  assert.deepEqual(
    Object.keys(JSON.parse(await exportFile(`${app.workspacePath}/${MANIFEST_FILE}`))).sort(),
    appSourceFiles(app.dir).sort(),
  );
});

test("app.env settings reach the deployed app.yaml, the repository's app.yaml is left as it is", async () => {
  const app = await newApp();
  const { status, output } = release(app, { POST_APPLY_APP_ENV: JSON.stringify({ LOG_LEVEL: "debug" }) });
  assert.equal(status, 0, output);
  assert.match(await exportFile(`${app.workspacePath}/app.yaml`), /- name: LOG_LEVEL\n\s+value: debug/);
  assert.doesNotMatch(readLocal(app.dir, "app.yaml"), /LOG_LEVEL/);
});

test("a source tree that changed since the plan is refused before anything is uploaded", async () => {
  const app = await newApp();
  const planned = appSourceSha256(app.dir);
  writeFileSync(join(app.dir, "app.yaml"), "command: [sh, -c, 'something else']\n");
  const { status, output } = release(app, { POST_APPLY_SOURCE_SHA256: planned });
  assert.equal(status, 1);
  assert.match(
    output,
    /post-apply failed at release: the app source in .* is not what was planned \(sha256 [0-9a-f]{64}, planned [0-9a-f]{64}\): plan again/,
  );
  await assert.rejects(
    emulator.api("GET", `/api/2.0/workspace/get-status?path=${encodeURIComponent(`${app.workspacePath}/app.yaml`)}`),
    / -> 404: /,
  );
  assert.deepEqual(await deployments(app.name), []);
});

test("a stopped app's compute is started first, then the code is deployed", async () => {
  const app = await newApp();
  await emulator.api("POST", `/api/2.0/apps/${app.name}/stop`);
  await waitFor(async () => (await readApp(app.name)).compute_status?.state === "STOPPED");
  const { status, output } = release(app);
  assert.equal(status, 0, output);
  assert.match(output, /compute of app "release-test-\d+" is STOPPED; starting it/);
  assert.equal((await readApp(app.name)).app_status?.state, "RUNNING");
});

test("a failing deployment fails the release with the platform's message; the previous deployment stays active", async () => {
  const app = await newApp();
  assert.equal(release(app).status, 0);
  const [good] = await deployments(app.name);
  await emulator.api("POST", `/_emulator/apps/${app.name}/fail-next-deployment`, {
    message: "Error installing packages: npm ERR! 404 left-pad",
  });
  writeFileSync(join(app.dir, "app.yaml"), "command: [node, broken.js]\n");

  const failed = release(app);
  assert.equal(failed.status, 1, failed.output);
  assert.match(
    failed.output,
    /post-apply failed at release: deployment \w+ of app "release-test-\d+" FAILED: Error installing packages: npm ERR! 404 left-pad/,
  );
  assert.equal((await readApp(app.name)).active_deployment?.deployment_id, good.deployment_id);

  // The next deploy retries (the release step is left tainted) and succeeds.
  const retried = release(app);
  assert.equal(retried.status, 0, retried.output);
  assert.equal((await readApp(app.name)).app_status?.state, "RUNNING");
});

test("a deployment already in progress is waited for, then this one is made", async () => {
  // Deployments that take 10 s, so the other one is still in progress when the release starts: the runner's own
  // start took more than 3 s on a loaded 2-core machine, and the other deployment had ended by then.
  const slow = await startEmulator({ appDelayMs: 10_000 });
  try {
    const app = { name: "release-busy", dir: join(work, "release-busy"), workspacePath: "/Shared/apps/release-busy" };
    await slow.api("POST", "/api/2.0/apps", { name: app.name, description: "" });
    await waitFor(
      async () => (await slow.api<App>("GET", `/api/2.0/apps/${app.name}`)).compute_status?.state === "ACTIVE",
    );
    cpSync(FIXTURE_SOURCE_DIR, app.dir, { recursive: true });
    await slow.api("POST", "/api/2.0/workspace/mkdirs", { path: app.workspacePath });
    const other = await slow.api<Deployment>("POST", `/api/2.0/apps/${app.name}/deployments`, {
      source_code_path: `/Workspace${app.workspacePath}`,
      mode: "SNAPSHOT",
    });
    assert.equal(other.status?.state, "IN_PROGRESS");

    const { status, output } = runToolAgainst(slow, "tools/post-apply/main.ts", ["release"], releaseEnv(app));
    assert.equal(status, 0, output);
    assert.match(output, new RegExp(`deployment ${other.deployment_id} is in progress; waiting for it first`));
    const [latest, previous] =
      (await slow.api<{ app_deployments?: Deployment[] }>("GET", `/api/2.0/apps/${app.name}/deployments`))
        .app_deployments ?? [];
    assert.equal(previous.deployment_id, other.deployment_id);
    assert.equal(
      (await slow.api<App>("GET", `/api/2.0/apps/${app.name}`)).active_deployment?.deployment_id,
      latest.deployment_id,
    );
  } finally {
    await slow.stop();
  }
});

test("the release is bounded: a deployment slower than the timeout fails naming the bound", async () => {
  const slow = await startEmulator({ appDelayMs: 5_000 });
  try {
    const name = "release-slow";
    await slow.api("POST", "/api/2.0/apps", { name, description: "" });
    const dir = join(work, name);
    cpSync(FIXTURE_SOURCE_DIR, dir, { recursive: true });
    const app = { name, dir, workspacePath: `/Shared/apps/${name}` };
    const { status, output } = runToolAgainst(
      slow,
      "tools/post-apply/main.ts",
      ["release"],
      releaseEnv(app, { POST_APPLY_RELEASE_TIMEOUT_SECONDS: "1" }),
    );
    assert.equal(status, 1, output);
    assert.match(
      output,
      /post-apply failed at release: (compute of app|deployment \w+).* is still \w+ after 1 s \(postApply\.releaseTimeoutSeconds\)/,
    );
  } finally {
    await slow.stop();
  }
});

const readLocal = (dir: string, file: string) => readFileSync(join(dir, file), "utf8");

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (const started = Date.now(); !(await condition()); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() - started > 10_000) throw new Error("condition not met within 10 s");
  }
}
