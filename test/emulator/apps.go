package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/databricks/cli/libs/testserver"
	"github.com/databricks/databricks-sdk-go/service/apps"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/workspace"
	"github.com/google/uuid"
)

// Apps. The test server gives a new app a random service principal on every create and on any update
// whose body lacks one, wipes platform fields (deployments, status) on update, and has no platform
// side effects for database, secret or serving-endpoint resources. These handlers keep the platform
// fields, derive the service principal from the app name, and grant what the resources ask for.
func (e *emulator) registerApps() {
	s := e.server
	s.Handle("POST", "/api/2.0/apps", func(req testserver.Request) any { return e.appUpsert(req, "") })
	s.Handle("PATCH", "/api/2.0/apps/{name}", func(req testserver.Request) any { return e.appUpsert(req, req.Vars["name"]) })
	s.Handle("POST", "/api/2.0/apps/{name}/deployments", e.deploymentCreate)
	s.Handle("GET", "/api/2.0/apps/{name}/deployments", e.deploymentList)
	s.Handle("GET", "/api/2.0/apps/{name}/deployments/{deployment_id}", e.deploymentGet)
}

var appName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)

// uuidFor derives a stable UUID from a kind and a name: the same app always gets the same service
// principal, across updates, re-creation and emulator restarts, so tests can predict its role name.
func uuidFor(kind, name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("databricks-emulator:"+kind+":"+name)).String()
}

func stableID(kind, name string) int64 {
	sum := sha256.Sum256([]byte(kind + ":" + name))
	return int64(binary.BigEndian.Uint64(sum[:8])>>12) + 1_000_000_000_000
}

func (e *emulator) appUpsert(req testserver.Request, name string) any {
	var app apps.App
	if err := json.Unmarshal(req.Body, &app); err != nil {
		return badRequest("MALFORMED_REQUEST", err.Error())
	}
	creating := name == ""
	if creating {
		name = app.Name
		if !appName.MatchString(name) {
			return badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("App name %q must contain only lowercase letters, numbers and hyphens, and start and end with a letter or number.", name))
		}
	}
	w := req.Workspace
	unlock := w.LockUnlock()
	existing, exists := w.Apps[name]
	unlock()
	switch {
	case creating && exists:
		return errorResponse(http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "An app with the same name already exists: "+name)
	case !creating && !exists:
		return notFound("App with name " + name + " does not exist or is deleted.")
	}

	now := time.Now().UTC().Format(time.RFC3339)
	if creating {
		app.Id = uuidFor("app", name)
		app.ServicePrincipalClientId = uuidFor("app-service-principal", name)
		app.ServicePrincipalId = stableID("app-service-principal", name)
		app.ServicePrincipalName = "app-" + name
		app.Url = "https://" + name + "-900800700600.aws.databricksapps.com"
		app.CreateTime, app.Creator = now, e.cfg.userName
		app.ComputeStatus = &apps.ComputeStatus{State: apps.ComputeStateActive, Message: "App compute is active."}
		if req.URL.Query().Get("no_compute") == "true" {
			app.ComputeStatus = &apps.ComputeStatus{State: apps.ComputeStateStopped, Message: "App compute is stopped."}
		}
		app.AppStatus = &apps.ApplicationStatus{State: apps.ApplicationStateUnavailable, Message: "App has not been deployed yet."}
		app.ActiveDeployment, app.PendingDeployment, app.DefaultSourceCodePath = nil, nil, ""
	} else {
		// The body is the whole desired app; what the platform owns stays as it is.
		app.Name = name
		app.Id, app.Url = existing.Id, existing.Url
		app.ServicePrincipalClientId, app.ServicePrincipalId, app.ServicePrincipalName =
			existing.ServicePrincipalClientId, existing.ServicePrincipalId, existing.ServicePrincipalName
		app.CreateTime, app.Creator = existing.CreateTime, existing.Creator
		app.ComputeStatus, app.AppStatus = existing.ComputeStatus, existing.AppStatus
		app.ActiveDeployment, app.PendingDeployment = existing.ActiveDeployment, existing.PendingDeployment
		app.DefaultSourceCodePath = existing.DefaultSourceCodePath
		app.Oauth2AppClientId, app.Oauth2AppIntegrationId = existing.Oauth2AppClientId, existing.Oauth2AppIntegrationId
		if app.ComputeSize == "" {
			app.ComputeSize = existing.ComputeSize
		}
	}
	if app.ComputeSize == "" {
		app.ComputeSize = apps.ComputeSizeMedium
	}
	app.UpdateTime, app.Updater = now, e.cfg.userName
	app.EffectiveUserApiScopes = slices.Clone(app.UserApiScopes)
	app.EffectiveBudgetPolicyId = app.BudgetPolicyId
	app.EffectiveUsagePolicyId = app.UsagePolicyId

	if resp := e.bindResources(w, app); resp != nil {
		return *resp
	}
	unlock = w.LockUnlock()
	defer unlock()
	if _, taken := w.Apps[name]; creating && taken {
		return errorResponse(http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "An app with the same name already exists: "+name)
	}
	w.Apps[name] = app
	if creating {
		e.mu.Lock()
		delete(e.extrasFor(w).deployments, name) // a re-created app starts without deployments
		e.mu.Unlock()
	}
	return app
}

// bindResources does what the Apps platform does when an app's resources are set: every referenced
// resource must exist, and the app's service principal gets what each resource asks for (a Postgres
// role with CONNECT, CREATE on the database; READ etc. on the secret scope; CAN_QUERY etc. on the
// serving endpoint). Grants from resources that were removed are left in place.
func (e *emulator) bindResources(w *testserver.FakeWorkspace, app apps.App) *testserver.Response {
	fail := func(code, format string, args ...any) *testserver.Response {
		r := badRequest(code, fmt.Sprintf("app %s: ", app.Name)+fmt.Sprintf(format, args...))
		return &r
	}
	sp := app.ServicePrincipalClientId

	unlock := w.LockUnlock()
	for _, r := range app.Resources {
		switch {
		case r.Database != nil:
			if _, ok := w.DatabaseInstances[r.Database.InstanceName]; !ok {
				unlock()
				return fail("RESOURCE_DOES_NOT_EXIST", "resource %s: database instance '%s' does not exist", r.Name, r.Database.InstanceName)
			}
			if r.Database.Permission != apps.AppResourceDatabaseDatabasePermissionCanConnectAndCreate {
				unlock()
				return fail("INVALID_PARAMETER_VALUE", "resource %s: database permission must be CAN_CONNECT_AND_CREATE, not %q", r.Name, r.Database.Permission)
			}
		case r.Secret != nil:
			if _, ok := w.SecretScopes[r.Secret.Scope]; !ok {
				unlock()
				return fail("RESOURCE_DOES_NOT_EXIST", "resource %s: secret scope '%s' does not exist", r.Name, r.Secret.Scope)
			}
			if _, ok := w.Secrets[r.Secret.Scope][r.Secret.Key]; !ok {
				unlock()
				return fail("RESOURCE_DOES_NOT_EXIST", "resource %s: secret '%s' does not exist in scope '%s'", r.Name, r.Secret.Key, r.Secret.Scope)
			}
		case r.ServingEndpoint != nil:
			if _, ok := w.ServingEndpoints[r.ServingEndpoint.Name]; !ok {
				unlock()
				return fail("RESOURCE_DOES_NOT_EXIST", "resource %s: serving endpoint '%s' does not exist", r.Name, r.ServingEndpoint.Name)
			}
		}
	}
	unlock()

	// Postgres first: if it fails, nothing about the app has changed yet.
	for _, r := range app.Resources {
		if r.Database == nil || !e.pg.enabled() {
			continue
		}
		exists, err := e.pg.databaseExists(r.Database.DatabaseName)
		if err == nil && !exists {
			return fail("RESOURCE_DOES_NOT_EXIST", "resource %s: database '%s' does not exist in instance '%s'", r.Name, r.Database.DatabaseName, r.Database.InstanceName)
		}
		if err == nil {
			err = e.pg.grantAppRole(sp, r.Database.DatabaseName)
		}
		if err != nil {
			logf("EMULATOR ERROR: app %s: postgres: %v", app.Name, err)
			r := errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator could not grant the app's Postgres role: "+err.Error())
			return &r
		}
	}

	defer w.LockUnlock()()
	for _, r := range app.Resources {
		switch {
		case r.Secret != nil:
			acls := w.Acls[r.Secret.Scope]
			acls = slices.DeleteFunc(acls, func(a workspace.AclItem) bool { return a.Principal == sp })
			w.Acls[r.Secret.Scope] = append(acls, workspace.AclItem{Principal: sp, Permission: workspace.AclPermission(r.Secret.Permission)})
		case r.ServingEndpoint != nil:
			endpoint := w.ServingEndpoints[r.ServingEndpoint.Name]
			key := "/serving-endpoints/" + endpoint.Id
			perms, ok := w.Permissions[key]
			if !ok {
				perms = iam.ObjectPermissions{ObjectId: key, ObjectType: "serving-endpoint"}
			}
			perms.AccessControlList = slices.DeleteFunc(perms.AccessControlList, func(a iam.AccessControlResponse) bool {
				return a.ServicePrincipalName == sp
			})
			perms.AccessControlList = append(perms.AccessControlList, iam.AccessControlResponse{
				ServicePrincipalName: sp,
				DisplayName:          app.ServicePrincipalName,
				AllPermissions:       []iam.Permission{{PermissionLevel: iam.PermissionLevel(r.ServingEndpoint.Permission)}},
			})
			w.Permissions[key] = perms
		}
	}
	return nil
}

// deploymentCreate deploys at once: SUCCEEDED, app RUNNING. As on the platform, the compute must be
// running and the source code path must exist.
func (e *emulator) deploymentCreate(req testserver.Request) any {
	name := req.Vars["name"]
	var d apps.AppDeployment
	if err := json.Unmarshal(req.Body, &d); err != nil {
		return badRequest("MALFORMED_REQUEST", err.Error())
	}
	w := req.Workspace
	unlock := w.LockUnlock()
	app, ok := w.Apps[name]
	unlock()
	if !ok {
		return notFound("App with name " + name + " does not exist or is deleted.")
	}
	if app.ComputeStatus == nil || app.ComputeStatus.State != apps.ComputeStateActive {
		return badRequest("INVALID_PARAMETER_VALUE", "Cannot deploy app "+name+" as its compute is not active; start the app first.")
	}
	if d.SourceCodePath == "" {
		d.SourceCodePath = app.DefaultSourceCodePath
	}
	if d.SourceCodePath == "" {
		return badRequest("INVALID_PARAMETER_VALUE", "source_code_path is required for the first deployment")
	}
	wsPath := strings.TrimPrefix(d.SourceCodePath, "/Workspace")
	if !w.DirectoryExists(wsPath) {
		return badRequest("RESOURCE_DOES_NOT_EXIST", "Source code path "+d.SourceCodePath+" does not exist or is not a folder.")
	}
	if d.Mode == "" {
		d.Mode = apps.AppDeploymentModeSnapshot
	}
	now := time.Now().UTC().Format(time.RFC3339)

	e.mu.Lock()
	x := e.extrasFor(w)
	d.DeploymentId = strings.ReplaceAll(uuid.NewString(), "-", "")
	d.CreateTime, d.UpdateTime, d.Creator = now, now, e.cfg.userName
	d.DeploymentArtifacts = &apps.AppDeploymentArtifacts{SourceCodePath: "/Workspace/Users/" + e.cfg.userName + "/.apps/" + name + "/" + d.DeploymentId}
	d.Status = &apps.AppDeploymentStatus{State: apps.AppDeploymentStateSucceeded, Message: "App started successfully"}
	x.deployments[name] = append(x.deployments[name], d)
	e.mu.Unlock()

	defer w.LockUnlock()()
	app = w.Apps[name]
	app.ActiveDeployment = &d
	app.PendingDeployment = nil
	app.DefaultSourceCodePath = d.SourceCodePath
	app.AppStatus = &apps.ApplicationStatus{State: apps.ApplicationStateRunning, Message: "App has status: App is running"}
	w.Apps[name] = app
	return d
}

func (e *emulator) deploymentList(req testserver.Request) any {
	name := req.Vars["name"]
	w := req.Workspace
	unlock := w.LockUnlock()
	_, ok := w.Apps[name]
	unlock()
	if !ok {
		return notFound("App with name " + name + " does not exist or is deleted.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	list := slices.Clone(e.extrasFor(w).deployments[name])
	slices.Reverse(list) // newest first
	return apps.ListAppDeploymentsResponse{AppDeployments: list}
}

func (e *emulator) deploymentGet(req testserver.Request) any {
	name, id := req.Vars["name"], req.Vars["deployment_id"]
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range e.extrasFor(req.Workspace).deployments[name] {
		if d.DeploymentId == id {
			return d
		}
	}
	return notFound("Deployment " + id + " of app " + name + " does not exist.")
}
