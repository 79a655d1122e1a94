package main

// Runs the emulator in-process and drives it with the Databricks Go SDK, the client the Terraform
// provider is built on. Postgres side effects are checked when EMULATOR_TEST_PG_ADMIN_URL names a
// superuser connection to a scratch server (they are skipped otherwise):
//
//	EMULATOR_TEST_PG_ADMIN_URL=postgres://postgres:pw@127.0.0.1:5432/postgres go test ./...

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/apps"
	"github.com/databricks/databricks-sdk-go/service/database"
	"github.com/databricks/databricks-sdk-go/service/workspace"
	"github.com/jackc/pgx/v5"
)

const testToken = "test-workspace-token"

func startForTest(t *testing.T) (*emulator, *databricks.WorkspaceClient) {
	t.Helper()
	cfg := config{
		workspaceToken:   testToken,
		userName:         "deployer@example.com",
		dbToken:          "test-db-token",
		pgHost:           "127.0.0.1",
		pgPort:           5432,
		pgAdminURL:       os.Getenv("EMULATOR_TEST_PG_ADMIN_URL"),
		servingEndpoints: []string{"llm"},
	}
	emu, err := start(cfg, t)
	if err != nil {
		t.Fatal(err)
	}
	w, err := databricks.NewWorkspaceClient(&databricks.Config{Host: emu.server.URL, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	return emu, w
}

// must unwraps a call's result; a failure panics, which fails the test with the error and a stack.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLakebaseInstanceReportsItsSpecAndConnection(t *testing.T) {
	_, w := startForTest(t)
	ctx := context.Background()

	inst := must(w.Database.CreateDatabaseInstanceAndWait(ctx, database.CreateDatabaseInstanceRequest{
		DatabaseInstance: database.DatabaseInstance{Name: "db", Capacity: "CU_1", RetentionWindowInDays: 14,
			CustomTags: []database.CustomTag{{Key: "env", Value: "dev"}}},
	}))
	if inst.State != database.DatabaseInstanceStateAvailable || inst.ReadWriteDns != "127.0.0.1" ||
		inst.EffectiveRetentionWindowInDays != 14 || inst.EffectiveNodeCount != 1 || len(inst.EffectiveCustomTags) != 1 {
		t.Fatalf("unexpected instance after create: %+v", inst)
	}

	// An out-of-band change through the API shows in the effective_* fields.
	upd := must(w.Database.UpdateDatabaseInstance(ctx, database.UpdateDatabaseInstanceRequest{
		Name: "db", UpdateMask: "node_count,stopped",
		DatabaseInstance: database.DatabaseInstance{Name: "db", NodeCount: 2, Stopped: true},
	}))
	if upd.EffectiveNodeCount != 2 || !upd.EffectiveStopped || upd.State != database.DatabaseInstanceStateStopped ||
		upd.EffectiveRetentionWindowInDays != 14 || upd.Capacity != "CU_1" || upd.Uid != inst.Uid {
		t.Fatalf("unexpected instance after update: %+v", upd)
	}

	cred := must(w.Database.GenerateDatabaseCredential(ctx, database.GenerateDatabaseCredentialRequest{InstanceNames: []string{"db"}, RequestId: "r"}))
	exp := must(time.Parse(time.RFC3339, cred.ExpirationTime))
	if cred.Token != "test-db-token" || time.Until(exp) < 50*time.Minute {
		t.Fatalf("unexpected credential %+v", cred)
	}
	_, err := w.Database.GenerateDatabaseCredential(ctx, database.GenerateDatabaseCredentialRequest{InstanceNames: []string{"nope"}})
	if !apierr.IsMissing(err) {
		t.Fatalf("credential for an unknown instance: want 404, got %v", err)
	}

	// Deleting without purge (what provider 1.99 sends) is a hard delete.
	if err := w.Database.DeleteDatabaseInstance(ctx, database.DeleteDatabaseInstanceRequest{Name: "db"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Database.GetDatabaseInstanceByName(ctx, "db"); !apierr.IsMissing(err) {
		t.Fatalf("instance still there: %v", err)
	}
}

func TestWrongTokenIsUnauthenticated(t *testing.T) {
	emu, _ := startForTest(t)
	bad := must(databricks.NewWorkspaceClient(&databricks.Config{Host: emu.server.URL, Token: "wrong"}))
	_, err := bad.Database.GenerateDatabaseCredential(context.Background(), database.GenerateDatabaseCredentialRequest{InstanceNames: []string{"db"}})
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("want 401, got %v", err)
	}
}

func TestAppBindsItsResources(t *testing.T) {
	_, w := startForTest(t)
	ctx := context.Background()
	must(w.Database.CreateDatabaseInstanceAndWait(ctx, database.CreateDatabaseInstanceRequest{DatabaseInstance: database.DatabaseInstance{Name: "db", Capacity: "CU_1"}}))
	must(w.Database.CreateDatabaseCatalog(ctx, database.CreateDatabaseCatalogRequest{Catalog: database.DatabaseCatalog{
		Name: "cat", DatabaseInstanceName: "db", DatabaseName: "emulator_test_app", CreateDatabaseIfNotExists: true}}))
	if err := w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "s", Key: "k", StringValue: "v"}); err != nil {
		t.Fatal(err)
	}
	resources := []apps.AppResource{
		{Name: "db", Database: &apps.AppResourceDatabase{InstanceName: "db", DatabaseName: "emulator_test_app", Permission: "CAN_CONNECT_AND_CREATE"}},
		{Name: "key", Secret: &apps.AppResourceSecret{Scope: "s", Key: "k", Permission: "READ"}},
		{Name: "llm", ServingEndpoint: &apps.AppResourceServingEndpoint{Name: "llm", Permission: "CAN_QUERY"}},
	}
	app := must(w.Apps.CreateAndWait(ctx, apps.CreateAppRequest{App: apps.App{Name: "my-app", Resources: resources}}))
	if app.ServicePrincipalClientId != uuidFor("app-service-principal", "my-app") || app.ComputeStatus.State != apps.ComputeStateActive {
		t.Fatalf("unexpected app: %+v", app)
	}
	acls := must(w.Secrets.GetAcl(ctx, workspace.GetAclRequest{Scope: "s", Principal: app.ServicePrincipalClientId}))
	if acls.Permission != workspace.AclPermissionRead {
		t.Fatalf("app service principal's ACL on the scope: %+v", acls)
	}

	// An update keeps the service principal even when the body does not carry it.
	updated := must(w.Apps.Update(ctx, apps.UpdateAppRequest{Name: "my-app", App: apps.App{Name: "my-app", Description: "d", Resources: resources}}))
	if updated.ServicePrincipalClientId != app.ServicePrincipalClientId || updated.Description != "d" {
		t.Fatalf("unexpected app after update: %+v", updated)
	}

	// A resource that does not exist is refused, like the platform does.
	_, err := w.Apps.Create(ctx, apps.CreateAppRequest{App: apps.App{Name: "other", Resources: []apps.AppResource{
		{Name: "llm", ServingEndpoint: &apps.AppResourceServingEndpoint{Name: "missing", Permission: "CAN_QUERY"}}}}})
	if err == nil || !strings.Contains(err.Error(), "serving endpoint 'missing' does not exist") {
		t.Fatalf("want a missing-endpoint error, got %v", err)
	}

	if url := os.Getenv("EMULATOR_TEST_PG_ADMIN_URL"); url != "" {
		conn := must(pgx.Connect(ctx, url))
		defer conn.Close(ctx)
		var canConnect, canCreate bool
		err := conn.QueryRow(ctx, `SELECT has_database_privilege($1, 'emulator_test_app', 'CONNECT'),
			has_database_privilege($1, 'emulator_test_app', 'CREATE')`, app.ServicePrincipalClientId).Scan(&canConnect, &canCreate)
		if err != nil || !canConnect || !canCreate {
			t.Fatalf("app role privileges: connect=%v create=%v err=%v", canConnect, canCreate, err)
		}
	}
}

func TestWorkspaceFilesAndDeployments(t *testing.T) {
	_, w := startForTest(t)
	ctx := context.Background()
	must(w.Apps.CreateAndWait(ctx, apps.CreateAppRequest{App: apps.App{Name: "my-app"}}))
	dir := "/Users/deployer@example.com/stack/app"
	if err := w.Workspace.MkdirsByPath(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := w.Workspace.Import(ctx, workspace.Import{Path: dir + "/app.yaml", Format: workspace.ImportFormatRaw, Overwrite: true,
		Content: base64.StdEncoding.EncodeToString([]byte("command: [python, app.py]\n"))}); err != nil {
		t.Fatal(err)
	}
	if st := must(w.Workspace.GetStatusByPath(ctx, dir+"/app.yaml")); st.ObjectType != workspace.ObjectTypeFile {
		t.Fatalf("imported file: %+v", st)
	}
	// Exact as a float64 (the provider's SDKv2 code), like a workspace's 16-digit ids, and stable between reads.
	for _, p := range []string{dir, dir + "/app.yaml"} {
		first, again := must(w.Workspace.GetStatusByPath(ctx, p)), must(w.Workspace.GetStatusByPath(ctx, p))
		if first.ObjectId <= 0 || first.ObjectId >= 1<<53 || first.ObjectId != again.ObjectId {
			t.Fatalf("%s: object ids %d, %d: want the same id, positive and below 2^53", p, first.ObjectId, again.ObjectId)
		}
	}
	if err := w.Workspace.Delete(ctx, workspace.Delete{Path: dir}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("non-recursive delete of a non-empty folder: want DIRECTORY_NOT_EMPTY, got %v", err)
	}

	d := must(w.Apps.DeployAndWait(ctx, apps.CreateAppDeploymentRequest{AppName: "my-app",
		AppDeployment: apps.AppDeployment{SourceCodePath: "/Workspace" + dir, Mode: apps.AppDeploymentModeSnapshot}}))
	if d.Status.State != apps.AppDeploymentStateSucceeded {
		t.Fatalf("deployment: %+v", d)
	}
	list := must(w.Apps.ListDeploymentsAll(ctx, apps.ListAppDeploymentsRequest{AppName: "my-app"}))
	app := must(w.Apps.GetByName(ctx, "my-app"))
	if len(list) != 1 || app.ActiveDeployment == nil || app.ActiveDeployment.DeploymentId != d.DeploymentId || app.AppStatus.State != apps.ApplicationStateRunning {
		t.Fatalf("after deployment: list=%+v app=%+v", list, app)
	}

	if err := w.Workspace.Delete(ctx, workspace.Delete{Path: "/Users/deployer@example.com/stack", Recursive: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Workspace.GetStatusByPath(ctx, dir+"/app.yaml"); !apierr.IsMissing(err) {
		t.Fatalf("file survived a recursive delete: %v", err)
	}
}

func TestSecretsListAndDelete(t *testing.T) {
	_, w := startForTest(t)
	ctx := context.Background()
	if err := w.Secrets.CreateScope(ctx, workspace.CreateScope{Scope: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Secrets.PutSecret(ctx, workspace.PutSecret{Scope: "s", Key: "k", StringValue: "v"}); err != nil {
		t.Fatal(err)
	}
	secrets := must(w.Secrets.ListSecretsAll(ctx, workspace.ListSecretsRequest{Scope: "s"}))
	if len(secrets) != 1 || secrets[0].Key != "k" || secrets[0].LastUpdatedTimestamp == 0 {
		t.Fatalf("secrets/list: %+v", secrets)
	}
	if err := w.Secrets.DeleteSecret(ctx, workspace.DeleteSecret{Scope: "s", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Secrets.DeleteSecret(ctx, workspace.DeleteSecret{Scope: "s", Key: "k"}); !apierr.IsMissing(err) {
		t.Fatalf("second delete: want 404, got %v", err)
	}
}

func TestUnhandledRoutesAreRecorded(t *testing.T) {
	emu, _ := startForTest(t)
	req, _ := http.NewRequest("GET", emu.server.URL+"/api/2.0/no/such/route", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp := must(http.DefaultClient.Do(req))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("want 501, got %d", resp.StatusCode)
	}
	resp = must(http.Get(emu.server.URL + "/_emulator/unhandled"))
	defer resp.Body.Close()
	var body struct{ Requests []string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Requests) != 1 || body.Requests[0] != "GET /api/2.0/no/such/route" {
		t.Fatalf("unhandled: %+v %v", body, err)
	}
}
