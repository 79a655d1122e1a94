import { test } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { ObjectPermissions } from "../../stacks/permissions/object-permissions";
import {
  addressOf,
  assertHasResource,
  environment,
  onlyResource,
  resources,
  synthConstruct,
  synthStack,
} from "../support/synth";

const PERMISSIONS = "databricks_permissions";
const SP = "6f1c2b9e-58c4-4a55-9d1e-2a7f0b3c4d5e";

test("users, groups and service principals map to user_name, group_name and service_principal_name", () => {
  const json = synthConstruct(
    (scope) =>
      new ObjectPermissions(scope, "app-permissions", {
        object: { appName: "notes-test" },
        grants: [
          { user: "ada@example.com", level: "CAN_MANAGE" },
          { group: "notes-users", level: "CAN_USE" },
          { servicePrincipal: SP, level: "CAN_USE" },
        ],
      }),
  );
  const permissions = onlyResource(json, PERMISSIONS);
  assert.equal(permissions.app_name, "notes-test");
  assert.deepEqual(permissions.access_control, [
    { user_name: "ada@example.com", permission_level: "CAN_MANAGE" },
    { group_name: "notes-users", permission_level: "CAN_USE" },
    { service_principal_name: SP, permission_level: "CAN_USE" },
  ]);
});

test("the stack grants on the app by app_name and on the instance by database_instance_name", () => {
  const { json } = synthStack(
    environment({
      permissions: {
        app: [{ group: "notes-users", level: "CAN_USE" }],
        instance: [{ user: "ada@example.com", level: "CAN_MANAGE" }],
      },
    }),
  );
  assertHasResource(
    json,
    PERMISSIONS,
    "on the app",
    (p) =>
      p.app_name === `\${${addressOf(json, "databricks_app")}.name}` &&
      isDeepStrictEqual(p.access_control, [{ group_name: "notes-users", permission_level: "CAN_USE" }]),
  );
  assertHasResource(
    json,
    PERMISSIONS,
    "on the instance",
    (p) =>
      p.database_instance_name === `\${${addressOf(json, "databricks_database_instance")}.name}` &&
      isDeepStrictEqual(p.access_control, [{ user_name: "ada@example.com", permission_level: "CAN_MANAGE" }]),
  );
});

test("an empty grant list leaves the permissions resource out (an empty access_control is invalid)", () => {
  const onlyApp = synthStack(
    environment({ permissions: { app: [{ group: "g", level: "CAN_USE" }], instance: [] } }),
  ).json;
  assert.deepEqual(
    Object.values(resources(onlyApp, PERMISSIONS)).map((p) => Object.keys(p).filter((k) => k.endsWith("_name"))),
    [["app_name"]],
  );
  const none = synthStack(environment({ permissions: { app: [], instance: [] } })).json;
  assert.deepEqual(resources(none, PERMISSIONS), {});
});

test("the construct refuses no grants, and anything but exactly one object", () => {
  assert.throws(
    () => synthConstruct((scope) => new ObjectPermissions(scope, "p", { object: { appName: "a" }, grants: [] })),
    /expected at least one grant, found none/,
  );
  assert.throws(
    () =>
      synthConstruct(
        (scope) =>
          new ObjectPermissions(scope, "p", {
            object: { appName: "a", databaseInstanceName: "i" },
            grants: [{ group: "g", level: "CAN_USE" }],
          }),
      ),
    /expected exactly one object field, found \{"appName":"a","databaseInstanceName":"i"\}/,
  );
});
