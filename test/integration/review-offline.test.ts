/**
 * `npm run review` offline, as CI runs it: a real git clone of this repository with a change on a branch,
 * reviewed against the commit it was cloned at.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JSDOM } from "jsdom";
import { micromark } from "micromark";
import { gfm, gfmHtml } from "micromark-extension-gfm";
import { REPO_ROOT } from "../../stacks/repo-paths";
import { markdown, REVIEW_MARKER } from "../../tools/review/markdown";
import type { Report } from "../../tools/review/report";
import { SHIPPED_ENVIRONMENTS, UNSHIPPED_ENVIRONMENT } from "../support/environments";
import { mermaidParser } from "../support/mermaid";
import { git } from "../support/git";

const CANARY = "canary-3c1f9a7e-never-print-me";

/** A clone of this repository on a branch `change` with `edit` committed; returns it and the commit it started at. */
function branch(t: TestContext, edit: (dir: string) => void): { dir: string; base: string } {
  const dir = mkdtempSync(join(tmpdir(), "review-repo-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  git(tmpdir(), "clone", "--quiet", REPO_ROOT, dir);
  symlinkSync(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  const base = git(dir, "rev-parse", "HEAD");
  git(dir, "checkout", "--quiet", "-b", "change");
  edit(dir);
  git(dir, "add", "-A", "--", "environments", "app-src");
  git(dir, "commit", "--quiet", "--allow-empty", "-m", "change");
  return { dir, base };
}

function edit(dir: string, file: string, from: string | RegExp, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, "utf8");
  const changed = text.replace(from, to);
  assert.notEqual(changed, text, `${file}: ${String(from)} not found`);
  writeFileSync(path, changed);
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function review(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", join(REPO_ROOT, "tools", "review", "main.ts"), ...args],
    { cwd, env: { ...process.env, ...env }, encoding: "utf8" },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The review in both formats, each expected to exit `status`. */
function reviewBoth(
  cwd: string,
  base: string,
  status: number,
  env: NodeJS.ProcessEnv = {},
): { md: string; json: Report } {
  const md = review(cwd, ["--base", base], env);
  assert.equal(md.status, status, md.stderr);
  const json = review(cwd, ["--base", base, "--format", "json"], env);
  assert.equal(json.status, status, json.stderr);
  return { md: md.stdout, json: JSON.parse(json.stdout) as Report };
}

function environment(report: Report, name: string) {
  const env = report.environments.find((e) => e.environment === name);
  assert.ok(env, `no section for ${name}`);
  return env;
}

/** The Markdown section of one environment: from its heading to the next. */
function section(md: string, name: string): string {
  const start = md.indexOf(`### <code>${name}</code>`);
  assert.ok(start >= 0, `no section for ${name}`);
  const end = md.indexOf("\n### ", start + 1);
  return md.slice(start, end < 0 ? undefined : end);
}

function renameInstance(dir: string): void {
  edit(dir, "environments/dev.yaml", "instanceName: notes-dev", "instanceName: notes-dev-v2");
}

test("renaming the Lakebase instance: a banner first names the replaced instance and the attribute that forces it", (t) => {
  const { dir, base } = branch(t, renameInstance);
  const { md, json } = reviewBoth(dir, base, 2);

  const dev = environment(json, "dev");
  const instance = dev.stateful.find((c) => c.type === "databricks_database_instance");
  assert.equal(instance?.action, "replace");
  assert.match(
    instance.reason ?? "",
    /^name changes force replacement \(replace_triggered_by terraform_data\.lakebase_instance-name_\w+\)$/,
  );
  // The catalog on it goes too: its instance is one of the inputs the stack replaces it on.
  assert.equal(dev.stateful.find((c) => c.type === "databricks_database_database_catalog")?.action, "replace");
  assert.ok(dev.counts.replace >= 2);
  assert.deepEqual(environment(json, "prod").changes, []);

  const devSection = section(md, "dev");
  const banner = devSection.indexOf("> [!CAUTION]");
  assert.ok(
    banner > 0 && banner < devSection.indexOf("| create | update | replace | destroy |"),
    "the banner comes before the counts",
  );
  assert.match(
    devSection,
    /> - \*\*replace\*\* <code>databricks_database_instance\.lakebase_instance_\w+<\/code> \(<code>notes-dev-v2<\/code>\): name changes force replacement/,
  );
  assert.doesNotMatch(section(md, "prod"), /CAUTION/);
  assert.match(section(md, "prod"), /No changes\./);
});

test("renaming the app replaces it, and what names it or needs its new service principal", (t) => {
  const { dir, base } = branch(t, (d) =>
    edit(d, "environments/dev.yaml", "name: notes-dev\n", "name: notes-dev-app\n"),
  );
  const { json } = reviewBoth(dir, base, 2);
  const dev = environment(json, "dev");
  const change = (prefix: string) => dev.changes.find((c) => c.address.startsWith(prefix));
  assert.deepEqual(
    dev.stateful.map((c) => [c.address.split(".")[0], c.action, c.reason]),
    [["databricks_app", "replace", "name changes force replacement (provider: RequiresReplace/ForceNew)"]],
  );
  assert.equal(
    change("databricks_permissions.app-permissions")?.reason,
    "app_name changes force replacement (provider: RequiresReplace/ForceNew)",
  );
  const postApply = change("terraform_data.post-apply");
  assert.equal(
    postApply?.reason,
    "triggers_replace.app_sp_client_id changes force replacement (terraform_data triggers_replace)",
  );
  assert.equal(
    postApply.changes.find((c) => c.path === "triggers_replace.app_sp_client_id")?.after,
    "(known after apply)",
  );
  assert.equal(dev.postApply.runs, true);
});

test("a new migration file is listed under post-apply work, and the step runs", (t) => {
  const { dir, base } = branch(t, (d) =>
    writeFileSync(
      join(d, "app-src", "migrations", "0002_add_tags.sql"),
      "CREATE TABLE app.tags (id bigint PRIMARY KEY);\n",
    ),
  );
  const { md, json } = reviewBoth(dir, base, 2);
  for (const name of SHIPPED_ENVIRONMENTS) {
    const env = environment(json, name);
    assert.deepEqual(env.postApply.newMigrations, ["0002_add_tags.sql"]);
    assert.equal(env.postApply.runs, true);
    assert.equal(env.postApply.grantsChanged, false);
    // The migration is part of the uploaded source too.
    assert.equal(env.postApply.appSourceChanged, true);
    assert.deepEqual(env.stateful, []);
    assert.match(section(md, name), /- New migrations: <code>0002_add_tags\.sql<\/code>/);
  }
  assert.doesNotMatch(md, /CAUTION/);
});

test("a migration the post-apply runner would refuse fails the review in one line naming it, as it fails synth", (t) => {
  const { dir, base } = branch(t, (d) =>
    writeFileSync(
      join(d, "app-src", "migrations", "0002_add_tags.SQL"),
      "CREATE TABLE app.tags (id bigint PRIMARY KEY);\n",
    ),
  );
  const run = review(dir, ["--base", base]);
  assert.equal(run.status, 1);
  assert.match(
    run.stderr,
    /^review: synthesizing \S+ failed: synth: app-src\/migrations\/0002_add_tags\.SQL: an unexpected file name; expected a regular file named like 0001_create_notes\.sql [^\n]+\n$/,
  );
  assert.equal(git(dir, "worktree", "list").split("\n").length, 1, "no worktree left behind");
});

function describeStaging(dir: string): void {
  edit(
    dir,
    "environments/staging.yaml",
    "app:\n  name: notes-staging",
    "app:\n  name: notes-staging\n  description: Staging | rehearsal",
  );
}

test("changing an app description is an in-place update, shown before → after", (t) => {
  const { dir, base } = branch(t, describeStaging);
  const { md, json } = reviewBoth(dir, base, 2);
  const staging = environment(json, "staging");
  assert.deepEqual(staging.counts, { create: 0, update: 1, replace: 0, destroy: 0 });
  const [app] = staging.changes;
  assert.equal(app.type, "databricks_app");
  assert.equal(app.action, "update");
  assert.deepEqual(app.changes, [
    { path: "description", before: "Team notes backed by Lakebase", after: "Staging | rehearsal" },
  ]);
  assert.equal(staging.postApply.runs, false);
  assert.match(
    section(md, "staging"),
    /\| <code>description<\/code> \| <code>Team notes backed by Lakebase<\/code> \| <code>Staging &#124; rehearsal<\/code> \|/,
  );
});

test("a description with template syntax is shown as the text Terraform applies, not as its escaped JSON", (t) => {
  const text = '${file("/etc/passwd")} and 100%{ done';
  const { dir, base } = branch(t, (d) =>
    edit(
      d,
      "environments/staging.yaml",
      "app:\n  name: notes-staging",
      `app:\n  name: notes-staging\n  description: '${text}'`,
    ),
  );
  const { md, json } = reviewBoth(dir, base, 2);
  const [app] = environment(json, "staging").changes;
  assert.deepEqual(app.changes, [{ path: "description", before: "Team notes backed by Lakebase", after: text }]);
  assert.doesNotMatch(section(md, "staging"), /\$\$\{|%%\{/);
});

test("removing an environment destroys its resources, stateful ones under the banner", (t) => {
  const { dir, base } = branch(t, (d) => rmSync(join(d, "environments", "staging.yaml")));
  const { md, json } = reviewBoth(dir, base, 2);
  const staging = environment(json, "staging");
  assert.deepEqual(staging.counts, { create: 0, update: 0, replace: 0, destroy: staging.changes.length });
  assert.deepEqual(
    new Set(staging.stateful.map((c) => c.type)),
    new Set([
      "databricks_app",
      "databricks_database_instance",
      "databricks_database_database_catalog",
      "databricks_secret",
      "databricks_secret_scope",
    ]),
  );
  assert.ok(staging.stateful.every((c) => c.action === "destroy" && c.reason === "removed from the configuration"));
  assert.deepEqual(staging.postApply.newMigrations, []);
  assert.match(section(md, "staging"), /> \[!CAUTION\]\n.*\n> - \*\*destroy\*\* <code>databricks_app\./);
});

test("a changed grant setting is reported as a grants hash change that re-runs the post-apply step", (t) => {
  const { dir, base } = branch(t, (d) =>
    edit(
      d,
      "environments/staging.yaml",
      "catalog: notes_staging",
      "catalog: notes_staging\n  readOnlyRoles:\n    - notes-auditors",
    ),
  );
  const { md, json } = reviewBoth(dir, base, 2);
  const staging = environment(json, "staging");
  assert.equal(staging.postApply.grantsChanged, true);
  assert.equal(staging.postApply.runs, true);
  assert.deepEqual(staging.postApply.newMigrations, []);
  assert.equal(staging.postApply.appSourceChanged, false);
  assert.match(section(md, "staging"), /- Grants hash: \*\*changes\*\*/);
  assert.equal(environment(json, "dev").postApply.grantsChanged, false);
});

test("a new environment is all creates, with every migration new", (t) => {
  const name = UNSHIPPED_ENVIRONMENT;
  const { dir, base } = branch(t, (d) => {
    const dev = readFileSync(join(d, "environments", "dev.yaml"), "utf8");
    writeFileSync(
      join(d, "environments", `${name}.yaml`),
      dev.replaceAll("notes-dev", `notes-${name}`).replaceAll("notes_dev", `notes_${name.replaceAll("-", "_")}`),
    );
  });
  const { json } = reviewBoth(dir, base, 2);
  const added = environment(json, name);
  assert.deepEqual(added.counts, { create: added.changes.length, update: 0, replace: 0, destroy: 0 });
  assert.deepEqual(added.stateful, []);
  assert.deepEqual(
    added.postApply.newMigrations,
    readdirSync(join(dir, "app-src", "migrations"))
      .filter((f) => f.endsWith(".sql"))
      .sort(),
  );
  assert.equal(added.postApply.runs, true);
  assert.deepEqual(environment(json, "dev").changes, []);
});

test("STACK_ENVIRONMENTS_DIR inside the repository is read from each tree's own copy", (t) => {
  const { dir, base } = branch(t, renameInstance);
  const { json } = reviewBoth(dir, base, 2, { STACK_ENVIRONMENTS_DIR: join(dir, "environments") });
  assert.equal(
    environment(json, "dev").stateful.find((c) => c.type === "databricks_database_instance")?.action,
    "replace",
  );
});

test("no change: exit 0 and every environment says so", (t) => {
  const { dir, base } = branch(t, () => {});
  const { md, json } = reviewBoth(dir, base, 0);
  assert.equal(json.changed, false);
  assert.deepEqual(
    json.environments.map((e) => e.environment),
    SHIPPED_ENVIRONMENTS,
  );
  for (const name of SHIPPED_ENVIRONMENTS) assert.match(section(md, name), /No changes\./);
  assert.ok(md.startsWith(REVIEW_MARKER));
});

test("a secret's value from TF_VAR_secret_* never appears, even where the configuration repeats it", (t) => {
  const { dir, base } = branch(t, (d) =>
    edit(d, "environments/common.yaml", "description: Team notes backed by Lakebase", `description: ${CANARY}`),
  );
  const { md, json } = reviewBoth(dir, base, 2, { TF_VAR_secret_session_signing_key: CANARY });
  const text = JSON.stringify(json);
  assert.ok(!md.includes(CANARY) && !text.includes(CANARY), "the canary leaked");
  const app = environment(json, "dev").changes.find((c) => c.type === "databricks_app");
  assert.deepEqual(
    app?.changes.find((c) => c.path === "description"),
    { path: "description", before: "Team notes backed by Lakebase", after: "(sensitive)" },
  );
  // The secret's value is a sensitive variable reference on both sides: masked, so never a change.
  const secret = json.environments.flatMap((e) => e.changes).find((c) => c.type === "databricks_secret");
  assert.equal(secret, undefined);
  // Nor in an error that quotes the configuration.
  edit(dir, "environments/common.yaml", "computeSize: MEDIUM", `computeSize: ${CANARY}`);
  const broken = review(dir, ["--base", base], { TF_VAR_secret_session_signing_key: CANARY });
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /app\.computeSize: expected one of .*, found "\(sensitive\)"/);
  assert.ok(!broken.stderr.includes(CANARY), "the canary leaked in the error");
});

test("an accepted guardrail finding is shown with its reason, as literal text, even without changes", (t) => {
  const reason = "lab *workspace* | <b>nightly</b> [backups](https://example.com) & `restores`";
  const { dir, base } = branch(t, (d) =>
    edit(
      d,
      "environments/prod.yaml",
      /^backend:\n(?: .*\n)*/m,
      `backend:\n  type: local\n  reason: ${JSON.stringify(reason)}\n`,
    ),
  );
  const { md, json } = reviewBoth(dir, base, 0);
  assert.deepEqual(environment(json, "prod").suppressions, [
    { rule: "DBX-ProductionRemoteState", path: "prod/backend", appliesTo: "local", reason },
  ]);
  assert.deepEqual(environment(json, "dev").suppressions, []);
  const html = micromark(section(md, "prod"), {
    allowDangerousHtml: true,
    extensions: [gfm()],
    htmlExtensions: [gfmHtml()],
  });
  const item = new JSDOM(html).window.document.querySelector("li");
  assert.equal(item?.textContent, `DBX-ProductionRemoteState on prod/backend (local): ${reason}`);
  assert.equal(item?.querySelectorAll("b, em, a").length, 0, "the reason became markup");
  assert.match(section(md, "prod"), /No changes\./);
});

test("the Markdown parses as GitHub-flavoured Markdown: tables and <details> as intended", (t) => {
  const { dir, base } = branch(t, (d) => {
    renameInstance(d);
    describeStaging(d);
  });
  const { md } = reviewBoth(dir, base, 2);
  const html = micromark(md, { allowDangerousHtml: true, extensions: [gfm()], htmlExtensions: [gfmHtml()] });
  const document = new JSDOM(html).window.document;
  const details = [...document.querySelectorAll("details")];
  assert.ok(details.length >= 4, "attribute changes and graphs are collapsed");
  const headers = [...document.querySelectorAll("table")].map((table) =>
    [...table.querySelectorAll("th")].map((th) => th.textContent),
  );
  assert.ok(headers.some((h) => h.join() === "create,update,replace,destroy"));
  assert.ok(
    headers[0].join() === "environment,create,update,replace,destroy,stateful destroyed or replaced",
    "the summary comes first",
  );
  const summary = [...document.querySelectorAll("table")[0].querySelectorAll("tbody tr")].map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent).join(),
  );
  // dev's replacements: the instance, the catalog, the post-apply step and the release (the app's binding changes);
  // staging's description; no change anywhere else.
  const changed: Record<string, string> = { dev: "0,3,5,0,2 ⚠️", staging: "0,1,0,0,0" };
  assert.deepEqual(
    summary,
    SHIPPED_ENVIRONMENTS.map((name) => `${name},${changed[name] ?? "0,0,0,0,0"}`),
  );
  assert.ok(headers.some((h) => h.join() === "action,resource,name,reason"));
  // A `|` in a value stays inside its cell.
  const rows = [...document.querySelectorAll("tr")].map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent),
  );
  assert.ok(
    rows.some((cells) => cells.join("\t") === "description\tTeam notes backed by Lakebase\tStaging | rehearsal"),
    "description before → after in one row",
  );
  assert.ok(!html.includes("| --- |"), "no table left unparsed");
});

test("each environment's graph parses with Mermaid's own parser", async (t) => {
  const { dir, base } = branch(t, renameInstance);
  const { md, json } = reviewBoth(dir, base, 2);
  const parse = await mermaidParser(t);
  const shown = [...md.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1]);
  assert.deepEqual(shown, [environment(json, "dev").graph], "sections without changes show no graph");
  for (const { graph } of json.environments) assert.equal((await parse(graph)).diagramType, "flowchart-v2");
  await assert.rejects(parse('graph LR\n  n0["unterminated -->'), "the parser does reject a broken graph");
  const dev = environment(json, "dev").graph;
  for (const bound of [
    "Lakebase instance notes-dev-v2 (replace)",
    "secret scope notes-dev",
    "serving endpoint databricks-meta-llama-3-3-70b-instruct",
    "app notes-dev (update)",
  ]) {
    assert.ok(dev.includes(bound), `${bound} in the dev graph`);
  }
});

test("over the size limit, attribute diffs and graphs go before counts and banners, and the cut is named", (t) => {
  const { dir, base } = branch(t, renameInstance);
  const { md, json } = reviewBoth(dir, base, 2);
  const limit = md.length - 1;
  const shorter = markdown(json, limit);
  assert.ok(shorter.length <= limit);
  assert.match(shorter, /Cut to fit GitHub's 65536-character comment limit: attribute values shortened/);
  const small = markdown(json, 4_000);
  assert.ok(small.length <= 4_000, `${small.length} characters`);
  assert.match(small, /attribute values shortened to 100 characters; attribute-level diffs left out/);
  assert.doesNotMatch(small, /Attribute changes/);
  assert.match(section(small, "dev"), /> \[!CAUTION\][\s\S]*\| create \| update \| replace \| destroy \|/);
  const tiny = markdown(json, 1_500);
  assert.ok(tiny.length <= 1_500);
  assert.match(tiny, /Output truncated at 1500 characters/);
});

test("a change too large for one comment stays under 65,536 characters and says what was cut", (t) => {
  const { dir, base } = branch(t, (d) => {
    renameInstance(d);
    // 400 new secrets in every environment: 400 resources to create in each.
    const keys = Array.from({ length: 400 }, (_, i) => `\n    - generated-key-${String(i).padStart(3, "0")}`).join("");
    edit(d, "environments/common.yaml", "keys:\n    - session-signing-key", `keys:\n    - session-signing-key${keys}`);
  });
  const { md, json } = reviewBoth(dir, base, 2);
  assert.equal(environment(json, "prod").counts.create, 400);
  assert.ok(md.length <= 65_536, `${md.length} characters`);
  assert.match(
    md,
    /Cut to fit GitHub's 65536-character comment limit: .*change tables shortened to 20 rows per environment/,
  );
  assert.match(
    section(md, "dev"),
    /> \[!CAUTION\][\s\S]*databricks_database_instance[\s\S]*\| create \| update \| replace \| destroy \|\n\| --- \| --- \| --- \| --- \|\n\| 400 \|/,
  );
  assert.match(section(md, "prod"), /_…and 380 more changes, left out to fit\._/);
});

test("--out writes the file; a missing base ref, a bad option or a tree that does not synthesize is one line and exit 1", (t) => {
  const { dir, base } = branch(t, () => {});
  const out = join(dir, "review.md");
  assert.equal(review(dir, ["--base", base, "--out", out]).status, 0);
  assert.ok(readFileSync(out, "utf8").startsWith(REVIEW_MARKER));
  assert.match(review(dir, ["--base", "no-such-ref"]).stderr, /^review: base ref "no-such-ref" is not a commit here/);
  for (const args of [["--base", "no-such-ref"], ["--format", "html"], ["--bogus"]]) {
    const run = review(dir, args);
    assert.equal(run.status, 1, args.join(" "));
    assert.match(run.stderr, /^review: [^\n]+\n$/, args.join(" "));
    assert.doesNotMatch(run.stderr, /\n./, "one line");
    assert.equal(run.stdout, "");
  }
  // The working tree is what is reviewed, committed or not: a guardrail violation in it is the error.
  edit(dir, "environments/dev.yaml", "instanceName: notes-dev", "instanceName: notes-xyz");
  const broken = review(dir, ["--base", base]);
  assert.equal(broken.status, 1);
  assert.match(
    broken.stderr,
    /^review: synthesizing \S+ failed: synth: guardrail violations \(1\): DBX-EnvironmentInName: dev\/lakebase\/instance: [^\n]+\n$/,
  );
  assert.equal(git(dir, "worktree", "list").split("\n").length, 1, "no worktree left behind");
});
