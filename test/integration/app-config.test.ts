/** The app's reading of the environment the Databricks Apps runtime gives it (app-src/src/config.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../app-src/src/config";
import { sslOption } from "../../app-src/src/db";

const platform = {
  DATABRICKS_APP_PORT: "8080",
  DATABRICKS_HOST: "https://adb-123.4.azuredatabricks.net/",
  DATABRICKS_CLIENT_ID: "6a5c1f0e-1b7d-4c47-9a51-2f0de4d7b3a9",
  DATABRICKS_CLIENT_SECRET: "secret",
  PGHOST: "instance-abc.database.cloud.databricks.com",
  PGPORT: "5432",
  PGDATABASE: "notes",
  PGUSER: "6a5c1f0e-1b7d-4c47-9a51-2f0de4d7b3a9",
  PGSSLMODE: "require",
  PGAPPNAME: "notes-dev",
};

test("the platform's variables become the app's config", () => {
  assert.deepEqual(loadConfig(platform), {
    port: 8080,
    workspaceUrl: "https://adb-123.4.azuredatabricks.net",
    clientId: platform.DATABRICKS_CLIENT_ID,
    clientSecret: "secret",
    database: {
      host: platform.PGHOST,
      port: 5432,
      name: "notes",
      user: platform.PGUSER,
      sslMode: "require",
      applicationName: "notes-dev",
    },
  });
});

test("defaults: a bare DATABRICKS_HOST gets https://, port 8000 and 5432, TLS required, the client id as role", () => {
  const { DATABRICKS_APP_PORT, PGPORT, PGSSLMODE, PGUSER, PGAPPNAME, ...rest } = platform;
  const config = loadConfig({ ...rest, DATABRICKS_HOST: "adb-123.4.azuredatabricks.net" });
  assert.equal(config.workspaceUrl, "https://adb-123.4.azuredatabricks.net");
  assert.equal(config.port, 8000);
  assert.equal(config.database.port, 5432);
  assert.equal(config.database.sslMode, "require");
  assert.equal(config.database.user, platform.DATABRICKS_CLIENT_ID);
  assert.equal(config.database.applicationName, "notes-app");
});

test("every bad or missing variable is reported at once", () => {
  assert.throws(
    () =>
      loadConfig({ ...platform, PGSSLMODE: "prefer", PGPORT: "0", DATABRICKS_CLIENT_SECRET: " ", PGHOST: undefined }),
    (error: ConfigError) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        "DATABRICKS_CLIENT_SECRET is not set",
        "PGHOST is not set",
        'PGPORT must be a port number, found "0"',
        'PGSSLMODE must be one of disable, require, verify-ca, verify-full, found "prefer"',
      ]);
      return true;
    },
  );
});

test("TLS: certificates are verified for every mode but disable", () => {
  assert.equal(sslOption("disable"), false);
  for (const mode of ["require", "verify-ca", "verify-full"] as const)
    assert.deepEqual(sslOption(mode), { rejectUnauthorized: true });
});
