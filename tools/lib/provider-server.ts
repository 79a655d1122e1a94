/**
 * The Databricks provider started once for all the Terraform commands one run makes in a stack, instead of by
 * Terraform three times in every plan (to read its schema, to validate, to plan), each start building the
 * provider's large schema again: a no-op plan of dev took 0.8 CPU-seconds (Terraform's and the provider's)
 * that way and 0.4 attached to a running provider. Terraform attaches through `TF_REATTACH_PROVIDERS`, the way
 * HashiCorp's terraform-exec and its provider test framework drive Terraform; plans made so are ordinary plans
 * (any Terraform can apply them).
 *
 * The same binary and the same checks: the provider `terraform init` installed for the stack, at the version
 * its dependency lock file selects, verified against the lock file's `h1:` checksums as Terraform verifies it
 * before every command (Terraform skips that for an attached provider). A verified file is remembered in the
 * data directory by the identity, size and change time of its files, so it is hashed once, not on every run.
 *
 * Nothing changes when this cannot be used: Terraform then starts the provider itself, and reports any
 * problem (a missing or altered provider, a stale lock file) its own way. Not used either when the user
 * set TF_LOG, TF_LOG_PROVIDER or TF_LOG_PATH (the provider's log then reaches Terraform's, as usual) or
 * TF_REATTACH_PROVIDERS (a provider of their own), nor on Windows (it needs a POSIX shell, below).
 *
 * The provider runs in a process group of its own, so Ctrl-C reaches Terraform, which stops gracefully,
 * and not the provider it is still using. A shell beside it ends it when this process ends, however it
 * ends (also killed), because that closes the pipe the shell reads.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { createInterface } from "node:readline";
import { runTerraform, terraformDataDir, type TerraformRun, type TerraformRunOptions } from "./terraform-cli";

/** The provider's address, as the lock file and `TF_REATTACH_PROVIDERS` name it. */
const PROVIDER = "registry.terraform.io/databricks/databricks";
/** Terraform's own settings that mean "run the provider as you always do". */
const TERRAFORM_RUNS_IT = ["TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_PATH", "TF_REATTACH_PROVIDERS"] as const;
/** terraform-plugin-log's settings, each subsystem's log off. */
const SDK_LOGS_OFF = Object.fromEntries(
  [
    "TF_LOG_PROVIDER",
    "TF_LOG_SDK",
    "TF_LOG_SDK_PROTO",
    "TF_LOG_SDK_MUX",
    "TF_LOG_SDK_FRAMEWORK",
    "TF_LOG_SDK_HELPER_SCHEMA",
  ].map((name) => [name, "off"]),
);
/** How long the provider gets to say where it listens (it takes well under a second). */
const START_TIMEOUT_MS = 30_000;
/** How long it gets to end when stopped (it takes milliseconds). */
const STOP_TIMEOUT_MS = 10_000;
/** How much of the provider's own output is kept, for when it fails. */
const KEPT_OUTPUT = 16 * 1024;
/** Where a verified provider file is remembered, in the stack's data directory. */
const VERIFIED_FILE = "databricks-app-stack.provider.json";

/** Packages hashed in this process, by identity (see fileIdentity). */
const verifiedHashes = new Map<string, string>();

/**
 * Starts the provider in debug mode (its `debug` argument), its standard input a pipe from this process:
 * the shell kills it when the pipe closes, and exits with it when it exits on its own.
 */
const SUPERVISOR = `exec 3<&0 </dev/null
"$0" debug & provider=$!
{ read -r _ <&3; kill "$provider"; } >/dev/null 2>&1 &
wait "$provider"`;

export interface ProviderServer {
  /** To add to the environment of every Terraform command in the stack. */
  readonly env: { readonly TF_REATTACH_PROVIDERS: string };
  /** The provider's own output when it exited before {@link stop} (a crash), else undefined. */
  failure(): string | undefined;
  /** Ends the provider and waits until it is gone. */
  stop(): Promise<void>;
}

/** Terraform commands in one stack, sharing one provider process when they can (see above). */
export interface StackTerraform {
  /** `terraform <args>` in the stack; a provider crash's own output is added to its stderr. */
  run(args: readonly string[], options?: Omit<TerraformRunOptions, "cwd" | "env">): Promise<TerraformRun>;
  /** Ends the provider process, if one was started. */
  stop(): Promise<void>;
}

/** Starts the provider for the commands in `stackDir`, which `terraform init` has set up, run with `env`. */
export async function stackTerraform(stackDir: string, env: NodeJS.ProcessEnv): Promise<StackTerraform> {
  const server = await startProviderServer(stackDir, env);
  return {
    async run(args, options = {}) {
      const result = await runTerraform(args, { ...options, cwd: stackDir, env: { ...env, ...server?.env } });
      const failure = result.status === 0 ? undefined : server?.failure();
      return failure ? { ...result, stderr: `${result.stderr}\n${failure}` } : result;
    },
    stop: async () => server?.stop(),
  };
}

/**
 * The provider of the stack in `stackDir` (initialized), running with `env` (the environment its Terraform
 * commands get, credentials included); undefined when Terraform should start it itself (see above).
 */
export async function startProviderServer(
  stackDir: string,
  env: NodeJS.ProcessEnv,
): Promise<ProviderServer | undefined> {
  if (process.platform === "win32" || TERRAFORM_RUNS_IT.some((name) => env[name])) return undefined;
  let executable: string | undefined;
  try {
    executable = verifiedProvider(terraformDataDir(stackDir, env), stackDir);
  } catch (error) {
    // A package or data directory this user cannot read or write: Terraform then says what is wrong.
    if ((error as NodeJS.ErrnoException).code === undefined) throw error;
  }
  if (!executable) return undefined;

  const child = spawn("/bin/sh", ["-c", SUPERVISOR, executable], {
    cwd: stackDir,
    // As Terraform runs it (its environment, and the collector setting runTerraform gives both), but without
    // the SDKs' trace log: Terraform drops it unless TF_LOG asks for it, and here it was megabytes a plan.
    env: { GOGC: "200", ...env, ...SDK_LOGS_OFF },
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-KEPT_OUTPUT);
  };
  child.stderr.on("data", keep);
  let stopping = false;
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("close", (code) => {
      exitCode = code;
      resolve();
    });
    // No shell to start (it then never closes): as a crash at once.
    child.once("error", () => {
      exitCode = null;
      resolve();
    });
  });
  // The pipe's far end gone (the shell exited) is what ending it is for.
  child.stdin.on("error", () => {});
  const stop = async () => {
    stopping = true;
    child.stdin.end();
    // It ends at once; should it not, its process group (the shell, the provider) is killed.
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  const reattach = await reattachLine(child, keep);
  if (!reattach) {
    await stop();
    return undefined;
  }
  return {
    env: { TF_REATTACH_PROVIDERS: reattach },
    failure: () =>
      exitCode !== undefined && !stopping
        ? `the Databricks provider exited (${exitCode ?? "killed"}): ${output.trim() || "without output"}`
        : undefined,
    stop,
  };
}

/**
 * The `TF_REATTACH_PROVIDERS` value the provider prints when it listens (checked to name it), or undefined
 * when it exits, prints something else or takes too long. Its other output is kept.
 */
function reattachLine(
  child: ChildProcessWithoutNullStreams,
  keep: (chunk: Buffer) => void,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: child.stdout });
    let settled = false;
    const done = (value: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      lines.removeAllListeners("line");
      // Whatever it prints later is kept (and the pipe drained).
      child.stdout.on("data", keep);
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), START_TIMEOUT_MS);
    lines.on("line", (line) => {
      const value = /TF_REATTACH_PROVIDERS='(\{.*\})'/.exec(line)?.[1];
      if (value === undefined) return keep(Buffer.from(`${line}\n`));
      try {
        done(PROVIDER in (JSON.parse(value) as object) ? value : undefined);
      } catch {
        done(undefined);
      }
    });
    child.once("close", () => done(undefined));
    child.once("error", () => done(undefined));
  });
}

/**
 * The provider executable `terraform init` installed in `dataDir` for the version the stack's lock file
 * selects, when its package matches one of the lock file's `h1:` checksums; else undefined.
 * @throws the file system's error when the lock file or the package is missing or cannot be read
 */
function verifiedProvider(dataDir: string, stackDir: string): string | undefined {
  const lock = lockedProvider(stackDir);
  if (!lock) return undefined;
  const platform = `${process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`;
  const packageDir = realpathSync(join(dataDir, "providers", PROVIDER, lock.version, platform));
  const executable = readdirSync(packageDir).find((f) => f.startsWith("terraform-provider-databricks"));
  if (!executable) return undefined;
  const files = packageFiles(packageDir);
  const identity = `${packageDir} ${files.map((file) => `${file}@${fileIdentity(join(packageDir, file))}`).join(" ")}`;
  const rememberedFile = join(dataDir, VERIFIED_FILE);
  const remembered = readRemembered(rememberedFile, identity);
  // Several stacks' data directories may link to one package (Terraform's plugin cache): it is hashed once.
  const hash = remembered ?? verifiedHashes.get(identity) ?? packageHash(packageDir, files);
  if (!lock.hashes.includes(hash)) return undefined;
  verifiedHashes.set(identity, hash);
  if (remembered === undefined) writeFileSync(rememberedFile, JSON.stringify({ identity, hash }));
  return join(packageDir, executable);
}

/**
 * The version and `h1:` checksums the lock file (as `terraform init` writes it) records for the provider.
 * @throws the file system's error when there is no lock file
 */
function lockedProvider(stackDir: string): { version: string; hashes: string[] } | undefined {
  const text = readFileSync(join(stackDir, ".terraform.lock.hcl"), "utf8");
  const block = new RegExp(`^provider "${PROVIDER.replaceAll(".", "\\.")}" \\{\\n([^}]*)^\\}`, "m").exec(text)?.[1];
  const version = block && /^\s*version\s*=\s*"([^"]+)"$/m.exec(block)?.[1];
  if (!block || !version) return undefined;
  return { version, hashes: [...block.matchAll(/"(h1:[A-Za-z0-9+/=]+)"/g)].map((m) => m[1]) };
}

/** Every file of a package, by its path inside it (with `/`), sorted. */
function packageFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/"))
    .sort();
}

/**
 * Terraform's `h1:` checksum of an installed package (Go's dirhash Hash1): SHA-256 of the lines
 * "<sha256 hex>  <path>" of every file in it, sorted by path.
 */
function packageHash(dir: string, files: readonly string[]): string {
  const summary = files
    .map(
      (file) =>
        `${createHash("sha256")
          .update(readFileSync(join(dir, file)))
          .digest("hex")}  ${file}\n`,
    )
    .join("");
  return `h1:${createHash("sha256").update(summary).digest("base64")}`;
}

/** What changes when the file's content can have changed: which file it is, its size and its change time. */
function fileIdentity(file: string): string {
  const s = statSync(file, { bigint: true });
  return [s.dev, s.ino, s.size, s.mtimeNs, s.ctimeNs].join(":");
}

/** The hash remembered in `file` for a package of exactly this identity, if any. */
function readRemembered(file: string, identity: string): string | undefined {
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as { identity?: unknown; hash?: unknown };
    return value.identity === identity && typeof value.hash === "string" ? value.hash : undefined;
  } catch {
    return undefined;
  }
}
