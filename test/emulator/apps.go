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
// whose body lacks one, wipes platform fields (deployments, status) on update, has no platform side
// effects for database, secret or serving-endpoint resources, and starts, stops and deploys at once.
// These handlers keep the platform fields, derive the service principal from the app name, grant what
// the resources ask for, and go through the platform's states: compute STARTING → ACTIVE and
// STOPPING → STOPPED, deployments IN_PROGRESS → SUCCEEDED (or FAILED, on request), each transition
// taking the configured app delay.
func (e *emulator) registerApps() {
	s := e.server
	s.Handle("POST", "/api/2.0/apps", func(req testserver.Request) any { return e.appUpsert(req, "") })
	s.Handle("PATCH", "/api/2.0/apps/{name}", func(req testserver.Request) any { return e.appUpsert(req, req.Vars["name"]) })
	s.Handle("DELETE", "/api/2.0/apps/{name}", e.appDelete)
	s.Handle("POST", "/api/2.0/apps/{name}/start", e.appStart)
	s.Handle("POST", "/api/2.0/apps/{name}/stop", e.appStop)
	s.Handle("POST", "/api/2.0/apps/{name}/deployments", e.deploymentCreate)
	s.Handle("GET", "/api/2.0/apps/{name}/deployments", e.deploymentList)
	s.Handle("GET", "/api/2.0/apps/{name}/deployments/{deployment_id}", e.deploymentGet)
	s.Handle("POST", "/_emulator/apps/{name}/fail-next-deployment", e.failNextDeployment)
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
		app.ComputeStatus = computeStarting
		if req.URL.Query().Get("no_compute") == "true" {
			app.ComputeStatus = computeStopped
		}
		app.AppStatus = notDeployed
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
	// The API checks the value; provider 1.99's validate does not.
	if !slices.Contains(validComputeSizes, app.ComputeSize) {
		return badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("app %s: compute_size %q is not valid; expected one of %v.", name, app.ComputeSize, validComputeSizes))
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
	if creating && app.ComputeStatus == computeStarting {
		e.mu.Lock()
		e.computeTransition(w, name, e.extrasFor(w), func(app *apps.App, _ *extras) { app.ComputeStatus = computeActive })
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
		if r.Database == nil {
			continue
		}
		c, unavailable := e.readyCluster(w, r.Database.InstanceName)
		if unavailable != nil {
			return unavailable
		}
		exists, err := c.databaseExists(r.Database.DatabaseName)
		if err == nil && !exists {
			return fail("RESOURCE_DOES_NOT_EXIST", "resource %s: database '%s' does not exist in instance '%s'", r.Name, r.Database.DatabaseName, r.Database.InstanceName)
		}
		if err == nil {
			err = c.grantAppRole(sp, r.Database.DatabaseName)
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

var (
	computeStarting = &apps.ComputeStatus{State: apps.ComputeStateStarting, Message: "App compute is starting."}
	computeActive   = &apps.ComputeStatus{State: apps.ComputeStateActive, Message: "App compute is active."}
	computeStopping = &apps.ComputeStatus{State: apps.ComputeStateStopping, Message: "App compute is stopping."}
	computeStopped  = &apps.ComputeStatus{State: apps.ComputeStateStopped, Message: "App compute is stopped."}
	notDeployed     = &apps.ApplicationStatus{State: apps.ApplicationStateUnavailable, Message: "App has not been deployed yet."}
	appDeploying    = &apps.ApplicationStatus{State: apps.ApplicationStateDeploying, Message: "App is being deployed."}
	appRunning      = &apps.ApplicationStatus{State: apps.ApplicationStateRunning, Message: "App has status: App is running"}
	appStopped      = &apps.ApplicationStatus{State: apps.ApplicationStateUnavailable, Message: "App is stopped."}
)

var validComputeSizes = new(apps.ComputeSize).Values()

// withApp runs f on the stored app under the workspace lock and e.mu (in that order, everywhere) and
// stores what f leaves in it; f's result is the response.
func (e *emulator) withApp(w *testserver.FakeWorkspace, name string, f func(app *apps.App, x *extras) any) any {
	defer w.LockUnlock()()
	app, ok := w.Apps[name]
	if !ok {
		return notFound("App with name " + name + " does not exist or is deleted.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	result := f(&app, e.extrasFor(w))
	w.Apps[name] = app
	return result
}

// computeTransition applies f to the app after the app delay, unless its compute was started, stopped
// or the app deleted meanwhile. Callers hold e.mu.
func (e *emulator) computeTransition(w *testserver.FakeWorkspace, name string, x *extras, f func(app *apps.App, x *extras)) {
	x.computeGeneration[name]++
	generation := x.computeGeneration[name]
	time.AfterFunc(e.cfg.appDelay, func() {
		e.withApp(w, name, func(app *apps.App, x *extras) any {
			if x.computeGeneration[name] == generation {
				f(app, x)
			}
			return nil
		})
	})
}

func (e *emulator) appDelete(req testserver.Request) any {
	name := req.Vars["name"]
	w := req.Workspace
	defer w.LockUnlock()()
	app, ok := w.Apps[name]
	if !ok {
		return notFound("App with name " + name + " does not exist or is deleted.")
	}
	delete(w.Apps, name)
	delete(w.Permissions, "/apps/"+name) // an ACL goes with its object
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.extrasFor(w)
	x.computeGeneration[name]++ // pending transitions die with the app
	delete(x.deployments, name)
	delete(x.failNext, name)
	return app
}

// appStart starts a stopped compute: STARTING, then ACTIVE. As on the platform, an app that had an active
// deployment then re-deploys it, so a deployment is IN_PROGRESS right after the compute is ACTIVE
// (callers that deploy next must expect "deployment in progress"). Starting a compute that is starting
// or active changes nothing.
func (e *emulator) appStart(req testserver.Request) any {
	name := req.Vars["name"]
	w := req.Workspace
	return e.withApp(w, name, func(app *apps.App, x *extras) any {
		switch app.ComputeStatus.State {
		case apps.ComputeStateActive, apps.ComputeStateStarting:
			return *app
		}
		app.ComputeStatus = computeStarting
		e.computeTransition(w, name, x, func(app *apps.App, x *extras) {
			app.ComputeStatus = computeActive
			if app.ActiveDeployment != nil {
				redeploy := apps.AppDeployment{SourceCodePath: app.ActiveDeployment.SourceCodePath, Mode: app.ActiveDeployment.Mode}
				e.startDeployment(w, app, x, redeploy)
			}
		})
		return *app
	})
}

// appStop stops the compute: STOPPING, then STOPPED; the app is unavailable at once and a deployment in
// progress is cancelled.
func (e *emulator) appStop(req testserver.Request) any {
	name := req.Vars["name"]
	w := req.Workspace
	return e.withApp(w, name, func(app *apps.App, x *extras) any {
		if app.ComputeStatus.State == apps.ComputeStateStopped {
			return *app
		}
		if p := app.PendingDeployment; p != nil && p.Status.State == apps.AppDeploymentStateInProgress {
			e.finishDeployment(app, x, *p, &apps.AppDeploymentStatus{State: apps.AppDeploymentStateCancelled, Message: "The deployment was cancelled because the app was stopped."})
		}
		app.ComputeStatus, app.AppStatus = computeStopping, appStopped
		e.computeTransition(w, name, x, func(app *apps.App, _ *extras) { app.ComputeStatus = computeStopped })
		return *app
	})
}

// deploymentCreate starts a deployment: IN_PROGRESS (the app DEPLOYING, the deployment pending), then
// after the app delay SUCCEEDED (the app RUNNING it as its active deployment) or, when a test asked for
// it, FAILED with the test's message (the previous active deployment stays active). As on the platform,
// the compute must be active, the source code path must be a folder (with or without the /Workspace
// prefix) and no other deployment may be in progress.
func (e *emulator) deploymentCreate(req testserver.Request) any {
	name := req.Vars["name"]
	var d apps.AppDeployment
	if err := json.Unmarshal(req.Body, &d); err != nil {
		return badRequest("MALFORMED_REQUEST", err.Error())
	}
	if d.Mode == "" {
		d.Mode = apps.AppDeploymentModeSnapshot
	}
	w := req.Workspace
	unlock := w.LockUnlock()
	app, ok := w.Apps[name]
	unlock()
	if !ok {
		return notFound("App with name " + name + " does not exist or is deleted.")
	}
	if d.SourceCodePath == "" {
		d.SourceCodePath = app.DefaultSourceCodePath
	}
	if d.SourceCodePath == "" {
		return badRequest("INVALID_PARAMETER_VALUE", "source_code_path is required for the first deployment")
	}
	if !w.DirectoryExists(canonicalPath(d.SourceCodePath)) {
		return badRequest("RESOURCE_DOES_NOT_EXIST", "Source code path "+d.SourceCodePath+" does not exist or is not a folder.")
	}
	return e.withApp(w, name, func(app *apps.App, x *extras) any {
		if app.ComputeStatus.State != apps.ComputeStateActive {
			return badRequest("INVALID_PARAMETER_VALUE", "Cannot deploy app "+name+" as its compute is not active; start the app first.")
		}
		if p := app.PendingDeployment; p != nil && p.Status.State == apps.AppDeploymentStateInProgress {
			return errorResponse(http.StatusConflict, "RESOURCE_CONFLICT", "Cannot deploy app "+name+" as there is an active deployment in progress.")
		}
		return e.startDeployment(w, app, x, d)
	})
}

// startDeployment records d as the app's pending deployment and completes it after the app delay.
// Callers hold the workspace lock and e.mu.
func (e *emulator) startDeployment(w *testserver.FakeWorkspace, app *apps.App, x *extras, d apps.AppDeployment) apps.AppDeployment {
	now := time.Now().UTC().Format(time.RFC3339)
	d.DeploymentId = strings.ReplaceAll(uuid.NewString(), "-", "")
	d.CreateTime, d.UpdateTime, d.Creator = now, now, e.cfg.userName
	d.DeploymentArtifacts = &apps.AppDeploymentArtifacts{SourceCodePath: "/Workspace/Users/" + e.cfg.userName + "/.apps/" + app.Name + "/" + d.DeploymentId}
	d.Status = &apps.AppDeploymentStatus{State: apps.AppDeploymentStateInProgress, Message: "Deployment is in progress."}
	x.deployments[app.Name] = append(x.deployments[app.Name], d)
	app.PendingDeployment = &d
	app.DefaultSourceCodePath = d.SourceCodePath
	app.AppStatus = appDeploying

	name := app.Name
	time.AfterFunc(e.cfg.appDelay, func() {
		e.withApp(w, name, func(app *apps.App, x *extras) any {
			if p := app.PendingDeployment; p == nil || p.DeploymentId != d.DeploymentId || p.Status.State != apps.AppDeploymentStateInProgress {
				return nil // cancelled, or the app was re-created
			}
			status := &apps.AppDeploymentStatus{State: apps.AppDeploymentStateSucceeded, Message: "App started successfully"}
			if message, fail := x.failNext[name]; fail {
				delete(x.failNext, name)
				status = &apps.AppDeploymentStatus{State: apps.AppDeploymentStateFailed, Message: message}
			}
			e.finishDeployment(app, x, *app.PendingDeployment, status)
			return nil
		})
	})
	return d
}

// finishDeployment ends the pending deployment d with status. A success becomes the active deployment
// and the app runs it; otherwise d stays visible as the pending deployment and the app keeps running
// its previous active deployment, if it had one.
func (e *emulator) finishDeployment(app *apps.App, x *extras, d apps.AppDeployment, status *apps.AppDeploymentStatus) {
	d.Status, d.UpdateTime = status, time.Now().UTC().Format(time.RFC3339)
	list := x.deployments[app.Name]
	for i := range list {
		if list[i].DeploymentId == d.DeploymentId {
			list[i] = d
		}
	}
	switch {
	case status.State == apps.AppDeploymentStateSucceeded:
		app.ActiveDeployment, app.PendingDeployment, app.AppStatus = &d, nil, appRunning
	case app.ActiveDeployment != nil:
		app.PendingDeployment, app.AppStatus = &d, appRunning
	default:
		app.PendingDeployment = &d
		app.AppStatus = &apps.ApplicationStatus{State: apps.ApplicationStateUnavailable, Message: status.Message}
	}
	if app.ComputeStatus.State != apps.ComputeStateActive {
		app.AppStatus = appStopped
	}
}

// failNextDeployment (emulator only) makes the app's next deployment end FAILED with the given message.
func (e *emulator) failNextDeployment(req testserver.Request) any {
	var body struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(req.Body, &body); err != nil || body.Message == "" {
		return badRequest("INVALID_PARAMETER_VALUE", `body must be {"message": "<why the deployment fails>"}`)
	}
	return e.withApp(req.Workspace, req.Vars["name"], func(_ *apps.App, x *extras) any {
		x.failNext[req.Vars["name"]] = body.Message
		return map[string]any{}
	})
}

func (e *emulator) deploymentList(req testserver.Request) any {
	return e.withApp(req.Workspace, req.Vars["name"], func(app *apps.App, x *extras) any {
		list := slices.Clone(x.deployments[app.Name])
		slices.Reverse(list) // newest first
		return apps.ListAppDeploymentsResponse{AppDeployments: list}
	})
}

func (e *emulator) deploymentGet(req testserver.Request) any {
	name, id := req.Vars["name"], req.Vars["deployment_id"]
	return e.withApp(req.Workspace, name, func(_ *apps.App, x *extras) any {
		for _, d := range x.deployments[name] {
			if d.DeploymentId == id {
				return d
			}
		}
		return notFound("Deployment " + id + " of app " + name + " does not exist.")
	})
}
