/**
 * `npm run drift` end to end, as a scheduled CI job runs it: a copy of this repository is deployed with the
 * real cdktf CLI and provider into the workspace emulator (non-production environments of environments/);
 * then the environment is changed out of band (the emulator's REST API, the database) and in the code (the
 * copy's files), one change at a time and all together, and each change must be reported with its class,
 * object and expected → found. Every run is checked to leave the Terraform state, the workspace, the
 * database and the copy's cdktf.out exactly as it found them, and to print no credential.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import pg from "pg";
import { loadEnvironments } from "../../stacks/config/load-environments";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import { REPO_ROOT } from "../../stacks/repo-paths";
import type { EnvironmentResult } from "../../tools/drift/check-environment";
import type { Finding } from "../../tools/drift/findings";
import type { DriftReport } from "../../tools/drift/report";
import { type EmulatedProject, startEmulatedProject } from "../../tools/lib/local/emulated-project";
import { outputOf } from "../../tools/lib/local/project";
import { providerUnavailable } from "../support/terraform";

// Where the bootstrap could not get the provider, CI still runs this tier; these tests then skip, saying why.
describe("drift against deployed environments", { skip: providerUnavailable() }, () => {
  const [first, second] = loadEnvironments({ dir: join(REPO_ROOT, "environments") })
    .filter((e) => !e.production)
    .map((e) => e.name);

  /** Identities the workspace knows that the tests name out of band: a user given a permission by hand, a group added as a read-only role. */
  const INTRUDER = "intruder@example.com";
  const AUDITORS = "notes-auditors";

  let world: EmulatedProject;
  let dev: EnvironmentConfig;
  let other: EnvironmentConfig;
  const deployed = new Set<string>();

  before(async () => {
    world = await startEmulatedProject({ identities: [`USER:${INTRUDER}`, `GROUP:${AUDITORS}`] });
    [dev, other] = [world.environment(first), world.environment(second)];
    world.deploy(dev.name);
    deployed.add(dev.name);
    // Here, not in a test: every injection on dev's grants needs it, whichever tests run.
    principals.set(dev.name, await servicePrincipal(dev));
  });

  after(async () => {
    await world?.stop();
  });

  /** `npm run drift -- <args> --format json` in the copy, checked to have changed nothing and printed no secret. */
  async function drift(
    args: string[],
    env?: NodeJS.ProcessEnv,
  ): Promise<{ status: number | null; report: DriftReport; output: string }> {
    const before = await snapshot();
    const result = world.tool("tools/drift/main.ts", [...args, "--format", "json"], env);
    const output = outputOf(result);
    assert.deepEqual(await snapshot(), before, `the drift run changed something:\n${output}`);
    for (const secret of world.secrets)
      assert.ok(!`${result.stdout}${result.stderr}`.includes(secret), `a secret was printed:\n${output}`);
    assert.deepEqual(
      readdirSync(world.project.dir).filter((name) => name.startsWith(".drift-")),
      [],
      "the synthesized stacks were left behind",
    );
    let report: DriftReport;
    try {
      report = JSON.parse(result.stdout) as DriftReport;
    } catch {
      assert.fail(`no JSON report:\n${output}`);
    }
    return { status: result.status, report, output };
  }

  /**
   * Everything a run could change: each deployed environment's state file (bytes; no lock file beside it),
   * its objects in the workspace (as the API returns them), its database (owners, ACLs, default
   * privileges, roles, the migration history), and the copy's cdktf.out (every file's size and mtime).
   */
  async function snapshot(): Promise<unknown> {
    const environments = [...deployed].map((name) => world.environment(name));
    return {
      state: environments.map((e) => {
        const file = world.stateFile(e.name);
        return [
          sha256(readFileSync(file)),
          existsSync(`${file}.lock.info`),
          existsSync(join(file, "..", ".terraform.tfstate.lock.info")),
        ];
      }),
      workspace: await Promise.all(environments.map(workspaceObjects)),
      database: await Promise.all(environments.map(databaseObjects)),
      buildOutput: listing(join(world.project.dir, "cdktf.out")),
    };
  }

  const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

  async function workspaceObjects(config: EnvironmentConfig): Promise<unknown[]> {
    const { app, lakebase, secrets } = config;
    const paths = [
      `/api/2.0/database/instances/${lakebase.instanceName}`,
      `/api/2.0/permissions/database-instances/${lakebase.instanceName}`,
      `/api/2.0/apps/${app.name}`,
      `/api/2.0/apps/${app.name}/deployments`,
      `/api/2.0/permissions/apps/${app.name}`,
      `/api/2.0/secrets/scopes/list`,
      `/api/2.0/secrets/list?scope=${secrets?.scope}`,
      `/api/2.0/workspace/get-status?path=${encodeURIComponent(app.sourcePath ?? `/Shared/apps/${app.name}`)}`,
    ];
    const read = (path: string) =>
      world.emulator.api<{ scopes?: { name: string }[] }>("GET", path).catch((error: Error) => error.message);
    // The scope list comes in no particular order.
    const sorted = (answer: Awaited<ReturnType<typeof read>>) =>
      typeof answer === "object" && answer.scopes
        ? { ...answer, scopes: [...answer.scopes].sort((a, b) => a.name.localeCompare(b.name)) }
        : answer;
    return Promise.all(paths.map(async (path) => sorted(await read(path))));
  }

  async function databaseObjects(config: EnvironmentConfig): Promise<unknown[]> {
    const { rows } = await world.sql(
      config,
      `
      SELECT format('%s owner=%s acl=%s', c.oid::regclass, pg_get_userbyid(c.relowner), c.relacl) AS line
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ($1, 'post_apply')
      UNION ALL SELECT format('schema %s owner=%s acl=%s', nspname, pg_get_userbyid(nspowner), nspacl) FROM pg_namespace
      UNION ALL SELECT format('default acl %s %s %s', pg_get_userbyid(defaclrole), defaclobjtype, defaclacl) FROM pg_default_acl
      UNION ALL SELECT format('role %s', rolname) FROM pg_roles
      UNION ALL SELECT format('applied %s %s %s %s', schema_name, name, checksum, applied_at) FROM post_apply.applied_migrations
      ORDER BY 1`,
      [config.database.schema],
    );
    return rows.map((r) => r.line);
  }

  function listing(dir: string): string[] {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => {
        const path = join(entry.parentPath, entry.name);
        const { size, mtimeMs } = statSync(path);
        return `${relative(dir, path)} ${size} ${mtimeMs}`;
      })
      .sort();
  }

  function resultOf(report: DriftReport, environment: string): EnvironmentResult {
    const result = report.environments.find((e) => e.environment === environment);
    assert.ok(result, `${environment} is not in the report`);
    return result;
  }

  /** The findings of one environment without their remediations, for exact comparison. */
  function findingsOf(report: DriftReport, environment: string, check?: Finding["check"]) {
    return resultOf(report, environment)
      .findings.filter((f) => !check || f.check === check)
      .map(({ check, class: kind, object, expected, found }) => ({ check, class: kind, object, expected, found }));
  }

  /** The address of the (first) resource of `type` in the copy's synthesized stack, optionally whose name starts with `prefix`. */
  function address(config: EnvironmentConfig, type: string, prefix = ""): string {
    const stack = JSON.parse(
      readFileSync(join(world.project.dir, "cdktf.out", "stacks", config.name, "cdk.tf.json"), "utf8"),
    ) as { resource: Record<string, Record<string, unknown>> };
    const name = Object.keys(stack.resource[type] ?? {}).find((n) => n.startsWith(prefix));
    assert.ok(name, `no ${type} ${prefix} in ${config.name}`);
    return `${type}.${name}`;
  }

  // Out-of-band and in-code changes, each with how to make it, what drift must report, and how to undo it.
  interface Injection {
    readonly name: string;
    inject(config: EnvironmentConfig): Promise<void>;
    expected(config: EnvironmentConfig): ReturnType<typeof findingsOf>;
    restore(config: EnvironmentConfig): Promise<void>;
  }

  const api = <T = unknown>(method: string, path: string, body?: unknown) => world.emulator.api<T>(method, path, body);
  const appPath = (config: EnvironmentConfig) => `/api/2.0/apps/${config.app.name}`;
  const servicePrincipal = async (config: EnvironmentConfig) =>
    (await api<{ service_principal_client_id: string }>("GET", appPath(config))).service_principal_client_id;
  let migrationText = "";
  const firstMigration = () => {
    const dir = join(world.project.dir, "app-src", "migrations");
    return `app-src/migrations/${
      readdirSync(dir)
        .filter((f) => f.endsWith(".sql"))
        .sort()[0]
    }`;
  };

  const injections: Injection[] = [
    {
      name: "the app's description changed by hand",
      async inject(config) {
        const app = await api<Record<string, unknown>>("GET", appPath(config));
        await api("PATCH", appPath(config), { ...app, description: "edited by hand" });
      },
      expected: (config) => [
        {
          check: "terraform",
          class: "out-of-band",
          object: `${address(config, "databricks_app")} (${config.app.name}) description`,
          expected: config.app.description,
          found: "edited by hand",
        },
      ],
      async restore(config) {
        const app = await api<Record<string, unknown>>("GET", appPath(config));
        await api("PATCH", appPath(config), { ...app, description: config.app.description });
      },
    },
    {
      name: "a secret deleted",
      inject: async (config) =>
        void (await api("POST", "/api/2.0/secrets/delete", {
          scope: config.secrets!.scope,
          key: config.secrets!.keys[0],
        })),
      expected: (config) => [
        {
          check: "terraform",
          class: "out-of-band",
          object: `${address(config, "databricks_secret")} (${config.secrets!.keys[0]})`,
          expected: "exists (in the Terraform state)",
          found: "deleted outside Terraform",
        },
      ],
      restore: async (config) =>
        void (await api("POST", "/api/2.0/secrets/put", {
          scope: config.secrets!.scope,
          key: config.secrets!.keys[0],
          string_value: `e2e-secret-${config.secrets!.keys[0]}`,
        })),
    },
    {
      name: "an app permission added by hand",
      async inject(config) {
        const acl = config.permissions.app.map((p) => ({ group_name: p.group, permission_level: p.level }));
        await api("PUT", `/api/2.0/permissions/apps/${config.app.name}`, {
          access_control_list: [...acl, { user_name: INTRUDER, permission_level: "CAN_MANAGE" }],
        });
      },
      expected: (config) => [
        {
          check: "terraform",
          class: "out-of-band",
          object: `${address(config, "databricks_permissions", "app-permissions")} (${config.app.name}) access_control[0]`,
          expected: "(absent)",
          found: JSON.stringify({ permission_level: "CAN_MANAGE", user_name: INTRUDER }),
        },
      ],
      restore: async (config) =>
        void (await api("PUT", `/api/2.0/permissions/apps/${config.app.name}`, {
          access_control_list: config.permissions.app.map((p) => ({ group_name: p.group, permission_level: p.level })),
        })),
    },
    {
      name: "an instance input-only field changed",
      inject: async (config) =>
        void (await api(
          "PATCH",
          `/api/2.0/database/instances/${config.lakebase.instanceName}?update_mask=retention_window_in_days`,
          { retention_window_in_days: 3 },
        )),
      expected: (config) => [
        {
          check: "instance",
          class: "out-of-band",
          object: `Lakebase instance "${config.lakebase.instanceName}" retention_window_in_days (lakebase.retentionWindowInDays)`,
          expected: String(config.lakebase.retentionWindowInDays),
          found: "3",
        },
      ],
      restore: async (config) =>
        void (await api(
          "PATCH",
          `/api/2.0/database/instances/${config.lakebase.instanceName}?update_mask=retention_window_in_days`,
          { retention_window_in_days: config.lakebase.retentionWindowInDays },
        )),
    },
    {
      name: "a grant revoked",
      inject: async (config) =>
        void (await world.sql(
          config,
          `REVOKE INSERT ON ${config.database.schema}.notes FROM ${pg.escapeIdentifier(servicePrincipalOf(config))}`,
        )),
      expected: (config) => [
        {
          check: "access",
          class: "out-of-band",
          object: `table ${config.database.schema}.notes (database "${config.database.name}")`,
          expected: "access exactly as database.appAccess / database.readOnlyRoles say",
          found: `role "${servicePrincipalOf(config)}" lacks INSERT on table ${config.database.schema}.notes`,
        },
      ],
      restore: async (config) =>
        void (await world.sql(
          config,
          `GRANT INSERT ON ${config.database.schema}.notes TO ${pg.escapeIdentifier(servicePrincipalOf(config))}`,
        )),
    },
    {
      name: "a migration edited after it was applied",
      async inject() {
        world.project.edit(firstMigration(), (text) => {
          migrationText = text;
          return `${text}\n-- edited after it was applied\n`;
        });
      },
      expected: () => [
        {
          check: "migrations",
          class: "unapplied",
          object: `migration ${firstMigration().split("/").pop()}`,
          expected: "",
          found: "",
        },
      ],
      restore: async () => world.project.edit(firstMigration(), () => migrationText),
    },
  ];

  /** Waits until the app's compute and deployments are done changing (they take a moment in the emulator, as on the platform). */
  async function settled(config: EnvironmentConfig): Promise<void> {
    interface App {
      compute_status?: { state?: string };
      pending_deployment?: { status?: { state?: string } };
    }
    for (
      const started = Date.now();
      Date.now() - started < 30_000;
      await new Promise((resolve) => setTimeout(resolve, 100))
    ) {
      const app = await api<App>("GET", appPath(config));
      if (
        !["STARTING", "STOPPING"].includes(app.compute_status?.state ?? "") &&
        app.pending_deployment?.status?.state !== "IN_PROGRESS"
      )
        return;
    }
    assert.fail(`app ${config.app.name} is still changing after 30 s`);
  }

  /** The app's service principal as the deploy recorded it (the emulator derives it from the app's name). */
  const principals = new Map<string, string>();
  const servicePrincipalOf = (config: EnvironmentConfig) => principals.get(config.name)!;

  /** Expected findings compared on what they say; a migration's checksums are not known in advance, so only that it was edited. */
  function assertReported(
    report: DriftReport,
    config: EnvironmentConfig,
    expected: ReturnType<typeof findingsOf>,
    output: string,
  ): void {
    const found = findingsOf(report, config.name);
    for (const want of expected) {
      const match =
        want.check === "migrations"
          ? found.find(
              (f) =>
                f.check === "migrations" &&
                f.object === want.object &&
                /edited after it was applied/.test(f.found) &&
                f.class === want.class,
            )
          : found.find((f) => JSON.stringify(f) === JSON.stringify(want));
      assert.ok(match, `not reported: ${JSON.stringify(want)}\nfound: ${JSON.stringify(found, null, 2)}\n${output}`);
    }
  }

  test("a freshly deployed environment is clean: exit 0, no findings, and Terraform was checked", async () => {
    const { status, report, output } = await drift([dev.name]);
    assert.equal(status, 0, output);
    assert.deepEqual(report.environments, [{ environment: dev.name, findings: [], notChecked: [] }], output);
    const markdown = world.tool("tools/drift/main.ts", [dev.name]);
    assert.equal(markdown.status, 0, outputOf(markdown));
    assert.match(markdown.stdout, new RegExp(`## ${dev.name}: clean`));
    assert.match(
      markdown.stdout,
      /Checked: Terraform \(a refreshing plan: out-of-band changes, and this commit's changes/,
    );
    assert.doesNotMatch(markdown.stdout, /not checked/i);
  });

  for (const injection of injections) {
    test(`${injection.name}: reported with its class, object and expected → found; exit 2`, async () => {
      await injection.inject(dev);
      try {
        const { status, report, output } = await drift([dev.name]);
        assert.equal(status, 2, output);
        assertReported(report, dev, injection.expected(dev), output);
        // Nothing else out of band: the one change is the only out-of-band finding.
        assert.equal(
          findingsOf(report, dev.name).filter((f) => f.class === "out-of-band").length,
          injection.expected(dev).filter((f) => f.class === "out-of-band").length,
          output,
        );
      } finally {
        await injection.restore(dev);
      }
    });
  }

  test("a migration edited after it was applied is also unapplied code: the plan re-runs the post-apply step and re-releases", async () => {
    const injection = injections.find((i) => i.name.startsWith("a migration edited"))!;
    await injection.inject(dev);
    try {
      const { report, output } = await drift([dev.name]);
      const unapplied = findingsOf(report, dev.name).filter((f) => f.class === "unapplied");
      const steps = unapplied.filter((f) => f.object.includes("terraform_data."));
      assert.deepEqual(
        steps.map((f) => [f.check, f.object.split(":")[0], f.expected]).sort(),
        [
          ["migrations", address(dev, "terraform_data", "post-apply"), "run for this commit"],
          ["release", address(dev, "terraform_data", "release"), "run for this commit"],
        ],
        output,
      );
      assert.match(
        steps.find((f) => f.check === "migrations")!.found,
        /^not yet: the migration files changed \(migrations_sha256: [0-9a-f]{12}… → [0-9a-f]{12}…\)$/,
      );
    } finally {
      await injection.restore(dev);
    }
  });

  test("all of them together: each reported, exit 2", async () => {
    for (const injection of injections) await injection.inject(dev);
    try {
      const { status, report, output } = await drift([dev.name]);
      assert.equal(status, 2, output);
      assertReported(
        report,
        dev,
        injections.flatMap((i) => i.expected(dev)),
        output,
      );
    } finally {
      // In reverse: the app's description cannot be set back while a secret it is bound to is missing.
      for (const injection of [...injections].reverse()) await injection.restore(dev);
    }
    assert.equal((await drift([dev.name])).status, 0, "restored");
  });

  test("the app's description changed by hand and in this commit: out-of-band as deployed → found, unapplied as deployed → this commit", async () => {
    const byHand = injections.find((i) => i.name.startsWith("the app's description"))!;
    const file = `environments/${dev.name}.yaml`;
    const original = readFileSync(join(world.project.dir, file), "utf8");
    await byHand.inject(dev);
    world.setYaml(dev.name, ["app", "description"], "changed in this commit");
    try {
      const { status, report, output } = await drift([dev.name]);
      assert.equal(status, 2, output);
      const app = `${address(dev, "databricks_app")} (${dev.app.name})`;
      assert.deepEqual(
        findingsOf(report, dev.name, "terraform"),
        [
          {
            check: "terraform",
            class: "out-of-band",
            object: `${app} description`,
            expected: dev.app.description,
            found: "edited by hand",
          },
          {
            check: "terraform",
            class: "unapplied",
            object: app,
            expected: "description = changed in this commit",
            found: `description = ${dev.app.description}`,
          },
        ],
        output,
      );
    } finally {
      world.project.edit(file, () => original);
      await byHand.restore(dev);
    }
  });

  test("the app deleted: a finding naming the app and the way out of provider 1.99's failing read, not a crash; with the other changes that outlive it", async () => {
    await api("DELETE", appPath(dev));
    const app = address(dev, "databricks_app");
    const deleted = {
      check: "terraform" as const,
      class: "out-of-band" as const,
      object: `${app} (${dev.app.name})`,
      expected: "exists (in the Terraform state)",
      found:
        "deleted outside Terraform; the provider fails to read it, so every refreshing plan and deploy of this environment fails",
    };
    const alone = await drift([dev.name]);
    assert.equal(alone.status, 2, alone.output);
    assert.deepEqual(findingsOf(alone.report, dev.name), [deleted], alone.output);
    assert.match(
      resultOf(alone.report, dev.name).findings[0].remediation,
      new RegExp(`terraform state rm '${app.replace(/\./g, "\\.")}'.*npx cdktf deploy ${dev.name}`),
    );
    assert.match(resultOf(alone.report, dev.name).notChecked.join("\n"), /the refresh stopped at databricks_app\./);

    // Together with the changes that do not live on the app (its role's access is checked as the state knows it).
    const outliving = injections.filter((i) => !/app's description|app permission/.test(i.name));
    for (const injection of outliving) await injection.inject(dev);
    try {
      const together = await drift([dev.name]);
      assert.equal(together.status, 2, together.output);
      assertReported(together.report, dev, [deleted, ...outliving.flatMap((i) => i.expected(dev))], together.output);
    } finally {
      for (const injection of [...outliving].reverse()) await injection.restore(dev);
    }

    // The remediation it names works: the app is gone from the state, the deploy creates it again, and all is clean.
    const stateRm = world.project.terraform(dev.name, ["state", "rm", app]);
    assert.equal(stateRm.status, 0, outputOf(stateRm));
    world.deploy(dev.name);
    const again = await drift([dev.name]);
    assert.equal(again.status, 0, again.output);
  });

  test("the release: an app whose compute was stopped, and one running a deployment of another directory, are named", async () => {
    await api("POST", `${appPath(dev)}/stop`);
    await settled(dev);
    try {
      const { status, report, output } = await drift([dev.name]);
      assert.equal(status, 2, output);
      assert.deepEqual(
        findingsOf(report, dev.name, "release").map((f) => [f.class, f.object, f.expected]),
        [["out-of-band", `app "${dev.app.name}"`, "RUNNING on ACTIVE compute"]],
        output,
      );
      assert.match(findingsOf(report, dev.name, "release")[0].found, /on STOPPED compute/);
    } finally {
      await api("POST", `${appPath(dev)}/start`);
      await settled(dev);
    }

    const elsewhere = `/Shared/elsewhere-${dev.name}`;
    const source = `/Workspace${dev.app.sourcePath ?? `/Shared/apps/${dev.app.name}`}`;
    await api("POST", "/api/2.0/workspace/mkdirs", { path: elsewhere });
    const { deployment_id: id } = await api<{ deployment_id: string }>("POST", `${appPath(dev)}/deployments`, {
      source_code_path: `/Workspace${elsewhere}`,
      mode: "SNAPSHOT",
    });
    await settled(dev);
    try {
      const { status, report, output } = await drift([dev.name]);
      assert.equal(status, 2, output);
      assert.deepEqual(
        findingsOf(report, dev.name, "release").map((f) => [f.class, f.object, f.expected]),
        [["out-of-band", `app "${dev.app.name}" active deployment`, `a deployment of ${source}`]],
        output,
      );
      assert.match(
        findingsOf(report, dev.name, "release")[0].found,
        new RegExp(`^deployment ${id} of /Workspace${elsewhere} `),
      );
    } finally {
      await api("POST", `${appPath(dev)}/deployments`, { source_code_path: source, mode: "SNAPSHOT" });
      await settled(dev);
      await api("POST", "/api/2.0/workspace/delete", { path: elsewhere, recursive: true });
    }
  });

  test("a read-only role added to the YAML and not yet deployed: the missing role and the post-apply run it needs are unapplied", async () => {
    const file = `environments/${dev.name}.yaml`;
    const original = readFileSync(join(world.project.dir, file), "utf8");
    world.setYaml(dev.name, ["database", "readOnlyRoles"], [AUDITORS]);
    try {
      const { status, report, output } = await drift([dev.name]);
      assert.equal(status, 2, output);
      assert.deepEqual(
        findingsOf(report, dev.name, "roles"),
        [
          {
            check: "roles",
            class: "unapplied",
            object: `Lakebase role "${AUDITORS}" (database.readOnlyRoles of environments/${dev.name}.yaml)`,
            expected: "exists on the instance, with read-only access to the app schema",
            found: "missing",
          },
        ],
        output,
      );
      const step = findingsOf(report, dev.name, "migrations").find((f) =>
        f.object.startsWith(address(dev, "terraform_data", "post-apply")),
      );
      assert.match(step?.found ?? "", /the grant settings changed/, output);
    } finally {
      world.project.edit(file, () => original);
    }
  });

  test("a new migration is pending and unapplied (the release ships it too); a table someone else created in the app schema is an ownership finding", async () => {
    const dir = join(world.project.dir, "app-src", "migrations");
    const name = `${String(readdirSync(dir).filter((f) => f.endsWith(".sql")).length + 1).padStart(4, "0")}_e2e_drift.sql`;
    writeFileSync(join(dir, name), "CREATE TABLE e2e_drift (id int);\n");
    await world.sql(dev, `CREATE TABLE ${dev.database.schema}.scratch (id int)`);
    const {
      rows: [{ superuser }],
    } = await world.sql<{ superuser: string }>(dev, "SELECT current_user AS superuser");
    try {
      const { status, report, output } = await drift([dev.name]);
      assert.equal(status, 2, output);
      assert.deepEqual(
        findingsOf(report, dev.name, "migrations").filter((f) => f.object === `migration ${name}`),
        [
          {
            check: "migrations",
            class: "unapplied",
            object: `migration ${name}`,
            expected: `applied to schema "${dev.database.schema}"`,
            found: "pending (not applied)",
          },
        ],
        output,
      );
      const release = findingsOf(report, dev.name, "release").find((f) =>
        f.object.startsWith(address(dev, "terraform_data", "release")),
      );
      assert.match(release?.found ?? "", /the app's source files changed/, output);
      assert.deepEqual(
        findingsOf(report, dev.name, "ownership"),
        [
          {
            check: "ownership",
            class: "out-of-band",
            object: `table ${dev.database.schema}.scratch`,
            expected: `owned by "${world.emulator.userName}"`,
            found: `owned by "${superuser}"`,
          },
        ],
        output,
      );
    } finally {
      rmSync(join(dir, name));
      await world.sql(dev, `DROP TABLE ${dev.database.schema}.scratch`);
    }
  });

  test("when Terraform cannot run, the report names what was missing, and the run exits 1, not clean", async () => {
    const mirror = mkdtempSync(join(tmpdir(), "empty-mirror-"));
    const config = join(mirror, "terraformrc");
    writeFileSync(config, `provider_installation {\n  filesystem_mirror {\n    path = "${mirror}"\n  }\n}\n`);
    const secretVariables = Object.keys(world.env).filter((name) => name.startsWith("TF_VAR_secret_"));
    const withoutSecrets = Object.fromEntries(
      Object.entries(world.env).filter(([name]) => !secretVariables.includes(name)),
    );
    const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
      [
        "terraform binary",
        { ...world.env, TERRAFORM_BINARY_NAME: "/nonexistent/terraform" },
        /^terraform: terraform binary: \/nonexistent\/terraform: not found/,
      ],
      [
        "provider",
        { ...world.env, TF_CLI_CONFIG_FILE: config },
        /^terraform: provider: the Databricks provider could not be installed/,
      ],
      [
        "credentials",
        { ...world.env, DATABRICKS_TOKEN: "not-the-token" },
        /^terraform: credentials: the Databricks provider could not authenticate.*; (instance|app): the workspace rejected the credentials/,
      ],
      ["secret values", withoutSecrets, new RegExp(`^terraform: secret values: ${secretVariables.join(", ")} not set`)],
    ];
    try {
      for (const [what, env, error] of cases) {
        const { status, report, output } = await drift([dev.name], env);
        assert.equal(status, 1, `${what}:\n${output}`);
        assert.match(resultOf(report, dev.name).error ?? "", error, `${what}:\n${output}`);
      }
    } finally {
      rmSync(mirror, { recursive: true, force: true });
    }
    // Not deployed from here: no local state.
    const { status, report, output } = await drift([other.name]);
    assert.equal(status, 1, output);
    assert.match(
      resultOf(report, other.name).error ?? "",
      new RegExp(`^terraform: state: no local state file at \\S*${other.name}\\.tfstate `),
      output,
    );
    const markdown = world.tool("tools/drift/main.ts", [other.name]);
    assert.match(markdown.stdout, new RegExp(`## ${other.name}: not checked`));
  });

  test("two environments in parallel: one combined report, one drifted and one clean, also written to --out-dir per environment", async () => {
    world.deploy(other.name);
    deployed.add(other.name);
    const outDir = mkdtempSync(join(tmpdir(), "drift-report-"));
    const description = injections[0];
    await description.inject(other);
    try {
      const { status, report, output } = await drift([dev.name, other.name, "--out-dir", outDir]);
      assert.equal(status, 2, output);
      assert.deepEqual(findingsOf(report, dev.name), []);
      assertReported(report, other, description.expected(other), output);
      assert.deepEqual(
        JSON.parse(readFileSync(join(outDir, "drift-report.json"), "utf8")).environments,
        report.environments,
      );
      assert.match(
        readFileSync(join(outDir, "drift-report.md"), "utf8"),
        new RegExp(`## ${dev.name}: clean[\\s\\S]*## ${other.name}: drift \\(1 finding\\)`),
      );
      const single = readFileSync(join(outDir, `drift-${other.name}.md`), "utf8");
      assert.match(single, new RegExp(`## ${other.name}: drift \\(1 finding\\)`));
      assert.doesNotMatch(single, new RegExp(`## ${dev.name}`));
    } finally {
      await description.restore(other);
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
