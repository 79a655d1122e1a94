/**
 * Tier "terraform": the provider started once per stack (tools/lib/provider-server.ts) with the real
 * Databricks provider 1.99.0. Terraform attaches to it instead of starting its own; only a package that
 * matches the lock file is started; the user's logging or own provider leave Terraform as it is; the process
 * never outlives its user, and Ctrl-C in the terminal does not reach it.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { startProviderServer, stackTerraform } from "../../tools/lib/provider-server";
import { synthesize } from "../../tools/review/trees";
import { alive, goneWithin } from "../support/processes";
import { providerUnavailable, terraform } from "../support/terraform";

const skip = providerUnavailable();
/** A test that hangs (a provider that never ends) fails instead of holding up the tier. */
const OPTIONS = { skip, timeout: 60_000 };
const PACKAGE = join(".terraform", "providers", "registry.terraform.io", "databricks", "databricks", "1.99.0");
const VERIFIED = join(".terraform", "databricks-app-stack.provider.json");

let outdir: string;
let stack: string;

before(async () => {
  if (skip) return;
  outdir = (await synthesize(REPO_ROOT, REPO_ROOT)).outDir;
  stack = join(outdir, "stacks", "dev");
  terraform(stack, ["init", "-input=false", "-backend=false"]);
});
after(() => outdir && rmSync(outdir, { recursive: true, force: true }));

/** The provider's process id, from what Terraform is told to attach to. */
function providerPid(reattach: string): number {
  return (JSON.parse(reattach) as Record<string, { Pid: number }>)["registry.terraform.io/databricks/databricks"].Pid;
}

/** A Node process that starts the server of `dir`, prints its TF_REATTACH_PROVIDERS (or "none"), then runs `then`. */
function serverProcess(dir: string, then: string) {
  const module = join(REPO_ROOT, "tools", "lib", "provider-server.ts");
  const script = `import(${JSON.stringify(module)}).then(async (m) => {
    const s = await m.startProviderServer(${JSON.stringify(dir)}, process.env);
    console.log(s ? s.env.TF_REATTACH_PROVIDERS : "none");
    ${then}
  })`;
  return spawn(process.execPath, ["--import", "tsx", "-e", script], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
}

/** Whether a new process (nothing remembered in memory) starts the provider of `dir`. */
async function startsInANewProcess(dir: string): Promise<boolean> {
  const child = serverProcess(dir, "await s?.stop();");
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const [code] = (await once(child, "close")) as [number];
  assert.equal(code, 0);
  return out.trim() !== "none";
}

/**
 * Runs `use` on a copy of the dev stack whose provider package is a directory of its own (not the mirror's),
 * changed by `change`; the copy is removed afterwards.
 */
async function withOwnPackage(change: (binary: string) => void, use: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "provider-stack-"));
  try {
    cpSync(stack, dir, { recursive: true, dereference: true });
    rmSync(join(dir, VERIFIED), { force: true });
    change(ownBinary(dir));
    await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ownBinary(dir: string): string {
  const [platform] = readdirSync(join(dir, PACKAGE));
  return join(dir, PACKAGE, platform, "terraform-provider-databricks_v1.99.0");
}

test(
  "Terraform attaches to the started provider instead of starting its own, and it is gone after stop",
  OPTIONS,
  async () => {
    const server = await startProviderServer(stack, process.env);
    assert.ok(server, "the provider was not started");
    const pid = providerPid(server.env.TF_REATTACH_PROVIDERS);
    try {
      // Terraform's own log (not the provider's): which provider it used.
      const validate = terraform(stack, ["validate", "-json"], { env: { ...server.env, TF_LOG: "debug" } });
      assert.equal((JSON.parse(validate.stdout) as { valid: boolean }).valid, true);
      assert.match(validate.stderr, /databricks\/databricks is overridden as an "unmanaged provider"/);
      assert.doesNotMatch(validate.stderr, /starting plugin/);
      // Ctrl-C goes to the terminal's foreground process group: this one's, not the provider's.
      const group = (p: number) => execFileSync("ps", ["-o", "pgid=", "-p", String(p)], { encoding: "utf8" }).trim();
      assert.notEqual(group(pid), group(process.pid));
    } finally {
      await server.stop();
    }
    assert.equal(alive(pid), false, "the provider outlived stop()");
    assert.equal(server.failure(), undefined);
  },
);

test("without the server Terraform starts the provider itself, as the baseline of the test above", OPTIONS, () => {
  const validate = terraform(stack, ["validate", "-json"], { env: { TF_LOG: "debug" } });
  assert.match(validate.stderr, /starting plugin/);
});

test("a provider package that does not match the lock file is not started; Terraform refuses it itself", OPTIONS, () =>
  withOwnPackage(
    (binary) => appendFileSync(binary, "tampered"),
    async (dir) => {
      assert.equal(await startProviderServer(dir, process.env), undefined);
      const terraformItself = await stackTerraform(dir, process.env);
      const validate = await terraformItself.run(["validate", "-no-color"]);
      await terraformItself.stop();
      assert.notEqual(validate.status, 0);
      assert.match(validate.stderr, /does not match any of the checksums recorded in the dependency lock file/);
    },
  ),
);

test("no installed provider package: not started, and Terraform reports it itself", OPTIONS, () =>
  withOwnPackage(
    (binary) => rmSync(join(binary, "..", ".."), { recursive: true }),
    async (dir) => {
      assert.equal(await startProviderServer(dir, process.env), undefined);
      const validate = terraform(dir, ["validate", "-no-color"], { allowFailure: true });
      assert.match(validate.stderr, /no package for registry\.terraform\.io\/databricks\/databricks 1\.99\.0/);
    },
  ),
);

test("a verified package is remembered by its files' identity and not hashed again", OPTIONS, () =>
  withOwnPackage(
    () => {},
    async (dir) => {
      assert.equal(await startsInANewProcess(dir), true);
      const remembered = JSON.parse(readFileSync(join(dir, VERIFIED), "utf8")) as { identity: string; hash: string };
      assert.match(remembered.hash, /^h1:/);
      // Remembered as a hash the lock file does not hold: a process that hashed the package would start it.
      writeFileSync(join(dir, VERIFIED), JSON.stringify({ ...remembered, hash: "h1:remembered-otherwise" }));
      assert.equal(await startsInANewProcess(dir), false);
      // A file touched is a new identity: hashed again, it matches the lock file.
      utimesSync(ownBinary(dir), new Date(), new Date(Date.now() - 60_000));
      assert.equal(await startsInANewProcess(dir), true);
    },
  ),
);

test(
  "with TF_LOG, TF_LOG_PROVIDER, TF_LOG_PATH or TF_REATTACH_PROVIDERS set, Terraform runs the provider as usual",
  OPTIONS,
  async () => {
    for (const name of ["TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_PATH", "TF_REATTACH_PROVIDERS"]) {
      assert.equal(await startProviderServer(stack, { ...process.env, [name]: "x" }), undefined, name);
    }
  },
);

test("a provider that dies is reported as a crash", OPTIONS, async () => {
  const server = await startProviderServer(stack, process.env);
  assert.ok(server);
  const pid = providerPid(server.env.TF_REATTACH_PROVIDERS);
  process.kill(pid, "SIGKILL");
  assert.ok(await goneWithin(pid, 5000));
  for (let i = 0; i < 50 && !server.failure(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(server.failure() ?? "", /^the Databricks provider exited \((\d+|killed)\)/);
  await server.stop();
});

test("the provider ends with the process that started it, even when that is killed", OPTIONS, async () => {
  const child = serverProcess(stack, "setInterval(() => {}, 1000);");
  const [line] = (await once(child.stdout, "data")) as [Buffer];
  const pid = providerPid(line.toString().trim());
  assert.ok(alive(pid));
  child.kill("SIGKILL");
  assert.ok(await goneWithin(pid, 5000), "the provider outlived the process that started it");
});
