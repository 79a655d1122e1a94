/**
 * `npm run review -- --plan` end to end, as a CI job with the environment's state and credentials runs it:
 * real plans of a copy of this repository, made with the real Terraform and provider against the workspace
 * emulator, saved (`terraform plan -out`, `terraform show -json`) and handed to the review. A create from
 * scratch, a no-op, an in-place update with a change made outside Terraform, a replacement (the instance
 * renamed, a secret's value rotated), an app rename (values known only after apply), and a destroy.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvironments } from "../../stacks/config/load-environments";
import { REPO_ROOT } from "../../stacks/repo-paths";
import type { EnvironmentConfig } from "../../stacks/config/schema";
import type { PlanEnvironmentReport, PlanReport } from "../../tools/review/plan-report";
import { type EmulatedProject, startEmulatedProject } from "../../tools/lib/local/emulated-project";
import { parseMermaidBlocks, renderGfm, tableHeaders, tableRows } from "../support/markdown-checks";
import { outputOf } from "../../tools/lib/local/project";
import { providerUnavailable } from "../support/terraform";

// Where the bootstrap could not get the provider, CI still runs this tier; these tests then skip, saying why.
describe("plan-mode review against deployed environments", { skip: providerUnavailable() }, () => {
  const [first] = loadEnvironments({ dir: join(REPO_ROOT, "environments") })
    .filter((e) => !e.production)
    .map((e) => e.name);
  const CANARY = "canary-5d2e8b91-rotated-secret-never-print-me";
  /** A user the workspace knows, given a permission on the app by hand. */
  const INTRUDER = "intruder@example.com";

  let world: EmulatedProject;
  let dev: EnvironmentConfig;
  let plans: string;

  before(async () => {
    world = await startEmulatedProject({ identities: [`USER:${INTRUDER}`] });
    dev = world.environment(first);
    plans = mkdtempSync(join(tmpdir(), "saved-plans-"));
  });

  after(async () => {
    if (plans) rmSync(plans, { recursive: true, force: true });
    await world?.stop();
  });

  /** Synthesizes the copy, plans `dev` as CI would (`-lock=false`) and saves the plan as `<env>.tfplan` and `<env>.json`. */
  function savePlan(options: { destroy?: boolean; env?: NodeJS.ProcessEnv } = {}): void {
    const run = (args: string[]) => {
      const result = world.project.terraform(dev.name, args, options.env);
      assert.equal(result.status, 0, outputOf(result));
      return result.stdout;
    };
    const synth = world.project.cdktf(["synth", dev.name], options.env);
    assert.equal(synth.status, 0, outputOf(synth));
    run(["init", "-input=false"]);
    const file = join(plans, `${dev.name}.tfplan`);
    run(["plan", "-input=false", "-lock=false", `-out=${file}`, ...(options.destroy ? ["-destroy"] : [])]);
    writeFileSync(join(plans, `${dev.name}.json`), run(["show", "-json", file]));
  }

  /** The review of the saved JSON plan in both formats (and of the binary plan file, which must read the same). */
  function review(
    status: number,
    env: NodeJS.ProcessEnv = world.env,
  ): { md: string; report: PlanEnvironmentReport; whole: PlanReport } {
    const json = world.project.dir && join(plans, `${dev.name}.json`);
    const run = (args: string[]) => {
      const result = world.tool("tools/review/main.ts", args, env);
      assert.equal(result.status, status, outputOf(result));
      return result.stdout;
    };
    const md = run(["--plan", json]);
    const whole = JSON.parse(run(["--plan", json, "--format", "json"])) as PlanReport;
    const binary = JSON.parse(run(["--plan", join(plans, `${dev.name}.tfplan`), "--format", "json"])) as PlanReport;
    assert.deepEqual(
      binary.environments.map((e) => ({ ...e, file: "" })),
      whole.environments.map((e) => ({ ...e, file: "" })),
      "the plan file reads as its JSON does",
    );
    const [report] = whole.environments;
    assert.equal(report.environment, dev.name);
    return { md, report, whole };
  }

  const typeOf = (address: string) => address.split(".")[0];

  test("create from scratch: every resource a create, the deploy's steps run for the first time, and the Markdown passes GFM and Mermaid", async (t) => {
    savePlan();
    const { md, report } = review(2);
    const resources = Object.values(
      (
        JSON.parse(readFileSync(join(world.project.dir, "cdktf.out", "stacks", dev.name, "cdk.tf.json"), "utf8")) as {
          resource: Record<string, Record<string, { for_each?: object }>>;
        }
      ).resource,
    )
      .flatMap((byName) => Object.values(byName))
      .reduce((n, block) => n + (block.for_each ? Object.keys(block.for_each).length : 1), 0);
    assert.deepEqual(report.counts, { create: resources, update: 0, replace: 0, destroy: 0 });
    assert.equal(report.emptyState, true);
    assert.deepEqual(
      report.steps.map((s) => [s.step, s.runs, s.reasons]),
      [
        ["post-apply", true, ["it has not run in this environment yet"]],
        ["release", true, ["it has not run in this environment yet"]],
      ],
    );
    assert.match(md, /> \*\*The state holds no resources\*\*: everything is created/);

    const document = renderGfm(md);
    const headers = tableHeaders(document);
    assert.deepEqual(headers[0], [
      "environment",
      "create",
      "update",
      "replace",
      "destroy",
      "stateful destroyed or replaced",
      "changed outside Terraform",
    ]);
    assert.ok(headers.some((h) => h.join() === "action,resource,name,reason"));
    assert.ok(tableRows(document).includes(`${dev.name}\t${resources}\t0\t0\t0\t0\t0`), "the summary row");
    assert.equal((await parseMermaidBlocks(t, md)).length, 1);

    world.deploy(dev.name);
  });

  test("no-op: exit 0, no changes, nothing changed outside Terraform", () => {
    savePlan();
    const { md, report, whole } = review(0);
    assert.equal(whole.changed, false);
    assert.deepEqual(report.counts, { create: 0, update: 0, replace: 0, destroy: 0 });
    assert.deepEqual(report.outOfBand, []);
    assert.deepEqual(
      report.steps.map((s) => [s.step, s.runs]),
      [
        ["post-apply", false],
        ["release", false],
      ],
    );
    assert.match(md, /\*\*Changed outside Terraform:\*\* nothing\.\n\nNo changes\./);
  });

  test("in-place update: the description before → after; a permission added by hand in its own section; the app is not redeployed", async () => {
    const acl = dev.permissions.app.map((p) => ({ group_name: p.group, permission_level: p.level }));
    await world.emulator.api("PUT", `/api/2.0/permissions/apps/${dev.app.name}`, {
      access_control_list: [...acl, { user_name: INTRUDER, permission_level: "CAN_MANAGE" }],
    });
    const file = `environments/${dev.name}.yaml`;
    const original = readFileSync(join(world.project.dir, file), "utf8");
    world.setYaml(dev.name, ["app", "description"], "Notes | edited in the pull request");
    try {
      savePlan();
      const { md, report } = review(2);
      assert.deepEqual(report.counts, { create: 0, update: 2, replace: 0, destroy: 0 });
      const app = report.changes.find((c) => typeOf(c.address) === "databricks_app");
      assert.deepEqual(app?.changes, [
        { path: "description", before: dev.app.description, after: "Notes | edited in the pull request" },
      ]);
      assert.deepEqual(
        report.outOfBand.map((c) => [typeOf(c.address), c.kind, c.changes]),
        [
          [
            "databricks_permissions",
            "changed",
            [{ path: "access_control[0]", after: { permission_level: "CAN_MANAGE", user_name: INTRUDER } }],
          ],
        ],
      );
      assert.deepEqual(
        report.steps.map((s) => [s.step, s.runs]),
        [
          ["post-apply", false],
          ["release", false],
        ],
      );
      const rows = tableRows(renderGfm(md));
      assert.ok(
        rows.includes(`description\t${dev.app.description}\tNotes | edited in the pull request`),
        "the description diff in one row",
      );
      assert.ok(
        rows.some((r) =>
          /^databricks_permissions\.app-permissions_\w+ \(.+\)\taccess_control\[0\]\t—\t\{"permission_level":"CAN_MANAGE","user_name":"intruder@example\.com"\}$/.test(
            r,
          ),
        ),
        rows.join("\n"),
      );
      assert.match(
        md,
        /- migrations and grants \(post-apply step\): does not run\n- the app's code deployed \(release step\): does not run/,
      );
    } finally {
      world.project.edit(file, () => original);
      await world.emulator.api("PUT", `/api/2.0/permissions/apps/${dev.app.name}`, { access_control_list: acl });
    }
  });

  test("replacement: the instance renamed and a secret's value rotated, counted apart, under the banner with Terraform's reasons; the secret masked", async (t) => {
    const file = `environments/${dev.name}.yaml`;
    const original = readFileSync(join(world.project.dir, file), "utf8");
    world.setYaml(dev.name, ["lakebase", "instanceName"], `${dev.lakebase.instanceName}-v2`);
    const secret = Object.keys(world.env).find((k) => k.startsWith("TF_VAR_secret_"))!;
    const rotated = { ...world.env, [secret]: CANARY };
    try {
      savePlan({ env: rotated });
      const { md, report, whole } = review(2, rotated);
      const text = `${md}${JSON.stringify(whole)}`;
      assert.ok(!text.includes(CANARY) && !text.includes(world.env[secret]), "a secret value was printed");
      assert.equal(report.counts.create, 0);
      assert.equal(report.counts.destroy, 0);
      assert.equal(report.counts.replace, report.changes.filter((c) => c.action === "replace").length);
      const stateful = Object.fromEntries(report.stateful.map((c) => [typeOf(c.address), c.reason]));
      assert.match(
        stateful.databricks_database_instance ?? "",
        /^replace_triggered_by terraform_data\.lakebase_instance-name_\w+ \(input\.name: notes-dev → notes-dev-v2\)$/,
      );
      assert.match(
        stateful.databricks_database_database_catalog ?? "",
        /^replace_triggered_by terraform_data\.lakebase_catalog-inputs_\w+ /,
      );
      assert.equal(stateful.databricks_secret, "the provider cannot change it in place: string_value");
      const secretChange = report.changes.find((c) => typeOf(c.address) === "databricks_secret");
      assert.deepEqual(secretChange?.changes, [{ path: "string_value", before: "(sensitive)", after: "(sensitive)" }]);
      assert.deepEqual(
        report.steps.map((s) => [s.step, s.runs]),
        [
          ["post-apply", true],
          ["release", true],
        ],
      );
      assert.match(
        report.steps[0].reasons.join(),
        /the Lakebase instance changes \(instance_name: notes-dev → notes-dev-v2\)/,
      );

      const section = md.slice(md.indexOf(`### <code>${dev.name}</code>`));
      const banner = section.indexOf("> [!CAUTION]");
      assert.ok(
        banner > 0 && banner < section.indexOf("| create | update | replace | destroy |"),
        "the banner comes before the counts",
      );
      assert.match(
        md,
        /> - \*\*replace\*\* <code>databricks_database_instance\.lakebase_instance_\w+<\/code> \(<code>notes-dev-v2<\/code>\): replace_triggered_by terraform_data\.lakebase_instance-name_/,
      );
      assert.match(md, /the app is \*\*redeployed\*\*: what the app runs changed/);
      renderGfm(md);
      await parseMermaidBlocks(t, md);
    } finally {
      world.project.edit(file, () => original);
    }
  });

  test("an app rename: the app replaced, and its new service principal marked known after apply where the deploy's steps use it", () => {
    const file = `environments/${dev.name}.yaml`;
    const original = readFileSync(join(world.project.dir, file), "utf8");
    world.setYaml(dev.name, ["app", "name"], `${dev.app.name}-renamed`);
    try {
      savePlan();
      const { md, report } = review(2);
      assert.equal(
        report.stateful.find((c) => typeOf(c.address) === "databricks_app")?.reason,
        "the provider cannot change it in place: name",
      );
      const postApply = report.changes.find((c) => c.address.startsWith("terraform_data.post-apply"));
      assert.deepEqual(
        postApply?.changes.find((c) => c.path === "triggers_replace.app_sp_client_id"),
        { path: "triggers_replace.app_sp_client_id", before: principal(report), after: "(known after apply)" },
      );
      assert.match(
        report.steps[0].reasons.join(),
        /the app's service principal changes \(app_sp_client_id: [0-9a-f-]+ → \(known after apply\)\)/,
      );
      assert.match(
        md,
        /\| <code>triggers_replace\.app_sp_client_id<\/code> \| <code>[0-9a-f-]+<\/code> \| _\(known after apply\)_ \|/,
      );
    } finally {
      world.project.edit(file, () => original);
    }
  });

  /** The app's service principal before the plan, as the post-apply step's trigger recorded it. */
  function principal(report: PlanEnvironmentReport): unknown {
    return report.changes
      .find((c) => c.address.startsWith("terraform_data.post-apply"))
      ?.changes.find((c) => c.path === "triggers_replace.app_sp_client_id")?.before;
  }

  test("destroy: every resource destroyed, the stateful ones under the banner", () => {
    savePlan({ destroy: true });
    const { md, report } = review(2);
    assert.deepEqual(report.counts, { create: 0, update: 0, replace: 0, destroy: report.changes.length });
    assert.deepEqual(
      new Set(report.stateful.map((c) => typeOf(c.address))),
      new Set([
        "databricks_app",
        "databricks_database_instance",
        "databricks_database_database_catalog",
        "databricks_secret",
        "databricks_secret_scope",
      ]),
    );
    assert.match(md, /> \[!CAUTION\]\n.*\n> - \*\*destroy\*\* <code>databricks_/);
    renderGfm(md);
  });

  test("bad input is one line naming the file and exit 1", () => {
    const bad = join(plans, "broken.json");
    writeFileSync(bad, JSON.stringify({ values: {} }));
    for (const [args, message] of [
      [
        ["--plan", bad],
        /^review: --plan .*broken\.json: expected the JSON of terraform show -json <planfile> \(format_version, planned_values, resource_changes\), found an object with keys values\n$/,
      ],
      [["--plan", join(plans, "missing")], /^review: --plan .*missing: no such file or directory\n$/],
      [["--plan", bad, "--base", "main"], /^review: --base and --plan: expected one of them/],
    ] as const) {
      const result = world.tool("tools/review/main.ts", [...args]);
      assert.equal(result.status, 1, outputOf(result));
      assert.match(result.stderr, message);
    }
  });
});
