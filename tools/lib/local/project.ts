/**
 * A throwaway copy of this repository that the e2e tier and the benchmarks deploy from with the real `cdktf` CLI and
 * the real Terraform provider, so it can edit app-src, migrations and YAML and delete cdktf.out freely. The copy is the
 * working tree as it is (tracked and untracked, not ignored files), with node_modules linked.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { stripVTControlCharacters } from "node:util";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { EnvironmentConfig } from "../../../stacks/config/schema";
import { secretVariableName } from "../../../stacks/config/secret-variable";
import { REPO_ROOT } from "../../../stacks/repo-paths";
import { identityTypeOf } from "../workspace";
import type { EmulatorOptions } from "./emulator";
import { bootstrappedTerraform } from "./toolchain";

export interface ProjectCopy {
  readonly dir: string;
  /** Rewrites a file of the copy (relative path); `edit` gets its current text, or "" for a new file. */
  edit(file: string, edit: (text: string) => string): void;
  /** Runs `command <args>` in the copy with `env` on top of the tools' environment, `input` on its stdin; never throws. */
  run(command: string, args: readonly string[], env?: NodeJS.ProcessEnv, input?: string): SpawnSyncReturns<string>;
  /** Runs `cdktf <args>` in the copy with `env` on top of the tools' environment; never throws. */
  cdktf(args: readonly string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  /** Runs terraform in the synthesized stack directory of `stack`; never throws. */
  terraform(stack: string, args: readonly string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  remove(): void;
}

export function copyProject(env: NodeJS.ProcessEnv): ProjectCopy {
  const dir = mkdtempSync(join(tmpdir(), "project-copy-"));
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    // A tracked file deleted in the working tree is not part of it.
    try {
      cpSync(join(REPO_ROOT, file), join(dir, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  symlinkSync(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"));

  // Asked for on the first command, so that a tier without Terraform can still make and use a copy.
  const tools = () => ({
    TERRAFORM_BINARY_NAME: bootstrappedTerraform(),
    TF_CLI_CONFIG_FILE: process.env.TF_CLI_CONFIG_FILE,
    CHECKPOINT_DISABLE: "1",
  });
  const run = (command: string, args: readonly string[], cwd: string, extra: NodeJS.ProcessEnv, input?: string) =>
    spawnSync(command, [...args], {
      cwd,
      input,
      encoding: "utf8",
      // Only what a deploying CI job has: the tools, the workspace's credentials and the secret values.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...tools(), ...env, ...extra },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 10 * 60_000,
    });

  return {
    dir,
    edit(file, edit) {
      const path = join(dir, file);
      let text = "";
      try {
        text = readFileSync(path, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, edit(text));
    },
    run: (command, args, extra = {}, input) => run(command, args, dir, extra, input),
    cdktf: (args, extra = {}) => run(join(dir, "node_modules", ".bin", "cdktf"), args, dir, extra),
    terraform: (stack, args, extra = {}) =>
      run(bootstrappedTerraform(), args, join(dir, "cdktf.out", "stacks", stack), { TF_IN_AUTOMATION: "1", ...extra }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * What the emulated workspace must hold before the environments deploy: the serving endpoints they bind
 * (they exist outside Terraform) and the groups, users and service principals they name.
 */
export function workspaceFor(environments: readonly EnvironmentConfig[]): EmulatorOptions {
  const identities = environments.flatMap((e) => [
    ...[...e.permissions.app, ...e.permissions.instance].map((g) =>
      g.user ? `USER:${g.user}` : g.group ? `GROUP:${g.group}` : `SERVICE_PRINCIPAL:${g.servicePrincipal}`,
    ),
    ...e.database.readOnlyRoles.map((name) => `${identityTypeOf(name)}:${name}`),
  ]);
  return {
    servingEndpoints: [...new Set(environments.flatMap((e) => e.servingEndpoints.map((s) => s.name)))],
    identities: [...new Set(identities)],
  };
}

/** A made-up value for every secret the environments declare, as CI would set them (TF_VAR_secret_*). */
export function secretValues(environments: readonly EnvironmentConfig[]): Record<string, string> {
  return Object.fromEntries(
    environments
      .flatMap((e) => e.secrets?.keys ?? [])
      .map((key) => [`TF_VAR_${secretVariableName(key)}`, `e2e-secret-${key}`]),
  );
}

/** A command's output for an assertion message: without terminal control codes and spinner frames, its last lines. */
export function outputOf(result: SpawnSyncReturns<string>, lines = 120): string {
  const readable = (text: string) =>
    stripVTControlCharacters(text)
      .split("\n")
      .filter((line) => line.trim() && !/^\s*[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]|Stacks? (deploying|done|waiting)/.test(line))
      .slice(-lines)
      .join("\n");
  return `exit ${result.status}${result.error ? ` (${result.error.message})` : ""}\n--- stdout (end)\n${readable(result.stdout)}\n--- stderr (end)\n${readable(result.stderr)}`;
}
