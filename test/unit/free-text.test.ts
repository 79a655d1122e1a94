/**
 * Free text from the configuration reaches cdk.tf.json as text Terraform will not evaluate: a stack whose every
 * free-text field holds template syntax has exactly the Terraform expressions of a stack with plain text,
 * and each field reads back (escapes undone) as written. (The e2e tier applies such a stack for real.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { literalText, terraformLiteral } from "../../stacks/config/terraform-literal";
import {
  type Attributes,
  environment,
  onlyResource,
  resources,
  synthStack,
  TEMPLATE_PAYLOADS,
  type TerraformJson,
} from "../support/synth";

const ALL = TEMPLATE_PAYLOADS.join(" ");
/** Workspace paths take no whitespace. */
const PATH_SEGMENT = TEMPLATE_PAYLOADS.join("-").replaceAll(" ", "_");
/** Role names take no '"' (and at most 63 bytes each). */
const ROLES = TEMPLATE_PAYLOADS.map((p) => p.replaceAll('"', ""));

/** Every free-text field of the configuration, holding `text` (or, for lists and mappings, `items`). */
function freeText(text: string, items: readonly string[], pathSegment: string, roles: readonly string[]) {
  return {
    workspace: { profile: text },
    backend: { type: "local", reason: text },
    app: { description: text, sourcePath: `/Shared/apps/notes-test/${pathSegment}`, env: { NOTE: text } },
    lakebase: { tags: Object.fromEntries(items.map((item, i) => [item, items[(i + 1) % items.length]])) },
    database: { readOnlyRoles: roles },
    servingEndpoints: [{ resourceName: "llm", name: "llm-endpoint", permission: "CAN_MANAGE", reason: text }],
    permissions: { app: [{ group: text, level: "CAN_MANAGE" }], instance: [{ group: text, level: "CAN_USE" }] },
  };
}

const hostile = synthStack(environment(freeText(ALL, TEMPLATE_PAYLOADS, PATH_SEGMENT, ROLES)));
const plainItems = TEMPLATE_PAYLOADS.map((_, i) => `item-${i}`);
const plain = synthStack(environment(freeText("plain text", plainItems, "plain", plainItems)));

/** The `${…}` and `%{…}` sequences Terraform evaluates in a JSON string (escaped ones are text). */
function templateSequences(template: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < template.length; ) {
    if (template.startsWith("$${", i) || template.startsWith("%%{", i)) {
      i += 3;
    } else if (template.startsWith("${", i) || template.startsWith("%{", i)) {
      let depth = 0;
      let end = i + 1;
      for (; end < template.length; end++) {
        if (template[end] === "{") depth++;
        else if (template[end] === "}" && --depth === 0) break;
      }
      found.push(template.slice(i, end + 1));
      i = end + 1;
    } else {
      i += 1;
    }
  }
  return found;
}

/** Every template sequence in the stack's strings and keys, except the backend block (Terraform reads it literally). */
function expressions(json: TerraformJson): string[] {
  const found: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === "string") found.push(...templateSequences(value));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        found.push(...templateSequences(k));
        walk(v);
      }
    }
  };
  const { terraform: { backend: _, ...terraform } = {}, ...rest } = json;
  walk({ ...rest, terraform });
  return [...new Set(found)].sort();
}

test("the hostile stack synthesizes without guardrail findings", () => {
  assert.deepEqual(hostile.violations, []);
});

test("every Terraform expression in the hostile stack is one the plain stack has too: none comes from the configuration", () => {
  assert.ok(expressions(plain.json).length > 5, "the plain stack has the stack's own references");
  assert.deepEqual(expressions(hostile.json), expressions(plain.json));
});

test("each free-text field reads back as written", () => {
  const { json } = hostile;
  const text = (value: unknown) => literalText(String(value));
  const app = onlyResource(json, "databricks_app");
  assert.equal(text(app.description), ALL);
  assert.equal(text(onlyResource(json, "databricks_directory").path), `/Shared/apps/notes-test/${PATH_SEGMENT}`);

  const tags = (onlyResource(json, "databricks_database_instance").custom_tags as { key: string; value: string }[]).map(
    (t) => [text(t.key), text(t.value)],
  );
  assert.deepEqual(Object.fromEntries(tags), {
    project: "notes",
    ...freeText(ALL, TEMPLATE_PAYLOADS, PATH_SEGMENT, ROLES).lakebase.tags,
  });

  const groups = Object.values(json.resource?.databricks_permissions ?? {}).flatMap((p: Attributes) =>
    p.access_control.map((a: Attributes) => text(a.group_name)),
  );
  assert.deepEqual(groups, [ALL, ALL]);

  assert.equal(text(json.provider?.databricks[0].profile), ALL);
  const [postApply, release] = ["post-apply", "release"].map(
    (prefix) => Object.entries(resources(json, "terraform_data")).find(([name]) => name.startsWith(prefix))![1],
  );
  const environment = postApply.provisioner[0]["local-exec"].environment;
  assert.equal(text(environment.DATABRICKS_CONFIG_PROFILE), ALL);
  assert.deepEqual(text(environment.POST_APPLY_READ_ONLY_ROLES)?.split(","), [...ROLES].sort());
  const releasing = release.provisioner[0]["local-exec"].environment;
  assert.equal(text(releasing.POST_APPLY_WORKSPACE_PATH), `/Shared/apps/notes-test/${PATH_SEGMENT}`);
  assert.deepEqual(JSON.parse(text(releasing.POST_APPLY_APP_ENV)!), { NOTE: ALL });
  assert.deepEqual(release.triggers_replace.app_env, { NOTE: terraformLiteral(ALL) });
});
