package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/databricks/cli/libs/testserver"
	"github.com/databricks/databricks-sdk-go/service/database"
)

// Lakebase (database instances, catalogs, credentials, roles). Each instance is backed by a PostgreSQL
// cluster of its own (postgresServers): STARTING while it boots, AVAILABLE once it accepts connections,
// gone with its data when the instance is deleted. The test server's instance PATCH decodes the body as
// {"database_instance": {...}} while the SDK sends the bare instance, so an update wiped the stored
// instance; its DELETE demands purge=true, which provider 1.99 never sends unless purge_on_delete is set;
// and its effective_* fields are fixed at create. These handlers keep the submitted spec and derive state
// and effective_* from it on every read.
func (e *emulator) registerLakebase() {
	s := e.server
	s.Handle("POST", "/api/2.0/database/instances", e.instanceCreate)
	s.Handle("GET", "/api/2.0/database/instances", e.instanceList)
	s.Handle("GET", "/api/2.0/database/instances/", e.instanceList)
	s.Handle("GET", "/api/2.0/database/instances/{name}", e.instanceGet)
	s.Handle("PATCH", "/api/2.0/database/instances/{name}", e.instanceUpdate)
	s.Handle("DELETE", "/api/2.0/database/instances/{name}", e.instanceDelete)
	s.Handle("POST", "/api/2.0/database/catalogs", e.catalogCreate)
	s.Handle("POST", "/api/2.0/database/credentials", e.credentials)
	e.registerRoles()
}

// The spec fields PATCH may change (all of them when update_mask is absent or "*").
var instanceSpecFields = []string{
	"capacity", "custom_tags", "enable_pg_native_login", "enable_readable_secondaries", "node_count",
	"retention_window_in_days", "stopped", "usage_policy_id",
}

// withDerivedFields fills in what the platform computes from the spec: the effective_* values a drift
// check compares with the configuration. Where to connect and the state come from the cluster (view).
func withDerivedFields(inst database.DatabaseInstance) database.DatabaseInstance {
	inst.ReadOnlyDns = ""
	if inst.PgVersion == "" {
		inst.PgVersion = "PG_VERSION_16"
	}
	inst.EffectiveCapacity = inst.Capacity
	inst.EffectiveNodeCount = inst.NodeCount
	if inst.EffectiveNodeCount == 0 {
		inst.EffectiveNodeCount = 1
	}
	inst.EffectiveRetentionWindowInDays = inst.RetentionWindowInDays
	if inst.EffectiveRetentionWindowInDays == 0 {
		inst.EffectiveRetentionWindowInDays = 7
	}
	inst.EffectiveStopped = inst.Stopped
	inst.EffectiveEnablePgNativeLogin = inst.EnablePgNativeLogin
	inst.EffectiveEnableReadableSecondaries = inst.EnableReadableSecondaries
	inst.EffectiveCustomTags = slices.Clone(inst.CustomTags)
	inst.EffectiveUsagePolicyId = inst.UsagePolicyId
	// The platform always reports the effective flags, false included.
	for _, f := range []string{"EffectiveStopped", "EffectiveEnablePgNativeLogin", "EffectiveEnableReadableSecondaries"} {
		if !slices.Contains(inst.ForceSendFields, f) {
			inst.ForceSendFields = append(inst.ForceSendFields, f)
		}
	}
	return inst
}

// view is the instance as GET shows it now: its host and its state, which follows its cluster
// (STARTING while it boots, AVAILABLE when it accepts connections, STOPPED when stopped). A cluster that
// failed to boot is an emulator error, answered as one rather than left STARTING for the provider's
// 20-minute wait.
func (e *emulator) view(inst database.DatabaseInstance) (database.DatabaseInstance, *testserver.Response) {
	c := e.pg.get(inst.Name)
	if c == nil {
		r := errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator: database instance '"+inst.Name+"' has no PostgreSQL")
		return inst, &r
	}
	inst.ReadWriteDns = c.host
	if inst.EnableReadableSecondaries {
		inst.ReadOnlyDns = c.host
	}
	state, err := c.status()
	switch {
	case inst.Stopped:
		inst.State = database.DatabaseInstanceStateStopped
	case state == clusterReady:
		inst.State = database.DatabaseInstanceStateAvailable
	case state == clusterFailed:
		r := errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator: the PostgreSQL of database instance '"+inst.Name+"' failed to start: "+err.Error())
		return inst, &r
	default:
		inst.State = database.DatabaseInstanceStateStarting
	}
	return inst, nil
}

func (e *emulator) respond(inst database.DatabaseInstance) any {
	inst, fail := e.view(inst)
	if fail != nil {
		return *fail
	}
	return inst
}

// readyCluster is the cluster of an instance that accepts connections, or the error the API gives.
func (e *emulator) readyCluster(w *testserver.FakeWorkspace, name string) (*cluster, *testserver.Response) {
	unlock := w.LockUnlock()
	inst, ok := w.DatabaseInstances[name]
	unlock()
	if !ok {
		r := notFound("Database instance '" + name + "' does not exist.")
		return nil, &r
	}
	inst, fail := e.view(inst)
	if fail != nil {
		return nil, fail
	}
	if inst.State != database.DatabaseInstanceStateAvailable {
		r := badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("Database instance '%s' is not available (state %s).", name, inst.State))
		return nil, &r
	}
	return e.pg.get(name), nil
}

func (e *emulator) instanceCreate(req testserver.Request) any {
	var inst database.DatabaseInstance
	if err := json.Unmarshal(req.Body, &inst); err != nil {
		return badRequest("MALFORMED_REQUEST", err.Error())
	}
	if inst.Name == "" {
		return badRequest("INVALID_PARAMETER_VALUE", "name is required")
	}
	if inst.Stopped {
		// Creating an instance stopped is refused by the platform (TFP #4816); the SDK would otherwise
		// wait 20 minutes for AVAILABLE.
		return badRequest("INVALID_PARAMETER_VALUE", "a database instance cannot be created stopped: create it, then stop it")
	}
	if inst.RetentionWindowInDays != 0 && (inst.RetentionWindowInDays < 2 || inst.RetentionWindowInDays > 35) {
		return badRequest("INVALID_PARAMETER_VALUE", "retention_window_in_days must be between 2 and 35")
	}
	w := req.Workspace
	defer w.LockUnlock()()
	if _, exists := w.DatabaseInstances[inst.Name]; exists {
		return errorResponse(http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "Database instance '"+inst.Name+"' already exists.")
	}
	if err := e.pg.create(inst.Name, setupInstance(e.cfg.userName, e.cfg.dbToken)); err != nil {
		logf("EMULATOR ERROR: database instance %s: %v", inst.Name, err)
		return errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator could not create the instance's PostgreSQL: "+err.Error())
	}
	inst.Uid = uuidFor("database-instance", inst.Name+"@"+time.Now().Format(time.RFC3339Nano))
	inst.Creator = e.cfg.userName
	inst.CreationTime = time.Now().UTC().Format(time.RFC3339)
	inst = withDerivedFields(inst)
	w.DatabaseInstances[inst.Name] = inst
	return e.respond(inst)
}

func (e *emulator) instanceGet(req testserver.Request) any {
	w := req.Workspace
	unlock := w.LockUnlock()
	inst, ok := w.DatabaseInstances[req.Vars["name"]]
	unlock()
	if !ok {
		return notFound("Database instance '" + req.Vars["name"] + "' does not exist.")
	}
	return e.respond(inst)
}

func (e *emulator) instanceList(req testserver.Request) any {
	w := req.Workspace
	unlock := w.LockUnlock()
	list := make([]database.DatabaseInstance, 0, len(w.DatabaseInstances))
	for _, inst := range w.DatabaseInstances {
		list = append(list, inst)
	}
	unlock()
	slices.SortFunc(list, func(a, b database.DatabaseInstance) int { return strings.Compare(a.Name, b.Name) })
	for i := range list {
		inst, fail := e.view(list[i])
		if fail != nil {
			return *fail
		}
		list[i] = inst
	}
	return database.ListDatabaseInstancesResponse{DatabaseInstances: list}
}

// instanceUpdate applies the fields named in update_mask (all spec fields without one). This is also
// how a test changes an instance "out of band" to provoke drift. Stopping an instance stops its
// cluster (the data stays); un-stopping starts it again (STARTING, then AVAILABLE).
func (e *emulator) instanceUpdate(req testserver.Request) any {
	name := req.Vars["name"]
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(req.Body, &patch); err != nil {
		return badRequest("MALFORMED_REQUEST", err.Error())
	}
	mask := instanceSpecFields
	if m := strings.TrimSpace(req.URL.Query().Get("update_mask")); m != "" && m != "*" {
		mask = nil
		for _, f := range strings.Split(m, ",") {
			f = strings.TrimSpace(f)
			if f == "parent_instance_ref" || f == "name" {
				continue // immutable; the provider lists parent_instance_ref in every mask
			}
			if !slices.Contains(instanceSpecFields, f) {
				logf("database instance %s: ignoring update_mask field %q (not an updatable spec field)", name, f)
				continue
			}
			mask = append(mask, f)
		}
	}

	w := req.Workspace
	unlock := w.LockUnlock()
	existing, ok := w.DatabaseInstances[name]
	if !ok {
		unlock()
		return notFound("Database instance '" + name + "' does not exist.")
	}
	current, _ := json.Marshal(existing)
	var merged map[string]json.RawMessage
	_ = json.Unmarshal(current, &merged)
	for _, f := range mask {
		if v, ok := patch[f]; ok {
			merged[f] = v
		} else {
			delete(merged, f) // named in the mask but absent: reset to its default
		}
	}
	data, _ := json.Marshal(merged)
	var updated database.DatabaseInstance
	if err := json.Unmarshal(data, &updated); err != nil {
		unlock()
		return badRequest("INVALID_PARAMETER_VALUE", err.Error())
	}
	if updated.RetentionWindowInDays != 0 && (updated.RetentionWindowInDays < 2 || updated.RetentionWindowInDays > 35) {
		unlock()
		return badRequest("INVALID_PARAMETER_VALUE", "retention_window_in_days must be between 2 and 35")
	}
	updated.Name, updated.Uid, updated.Creator, updated.CreationTime = existing.Name, existing.Uid, existing.Creator, existing.CreationTime
	updated = withDerivedFields(updated)
	w.DatabaseInstances[name] = updated
	unlock()

	if c := e.pg.get(name); c != nil && updated.Stopped != existing.Stopped {
		if updated.Stopped {
			c.stop()
		} else {
			c.start()
		}
	}
	return e.respond(updated)
}

// instanceDelete is a hard delete; purge=false is rejected as by the API ("omitting or true means hard
// delete"). The instance's cluster is stopped and its data removed.
func (e *emulator) instanceDelete(req testserver.Request) any {
	if req.URL.Query().Get("purge") == "false" {
		return badRequest("INVALID_PARAMETER_VALUE", "purge=false is not supported")
	}
	name := req.Vars["name"]
	w := req.Workspace
	unlock := w.LockUnlock()
	_, ok := w.DatabaseInstances[name]
	delete(w.DatabaseInstances, name)
	delete(w.Permissions, "/database-instances/"+name) // an ACL goes with its object
	unlock()
	if !ok {
		return notFound("Database instance '" + name + "' does not exist.")
	}
	e.pg.remove(name)
	return map[string]any{}
}

// catalogCreate registers a database as a catalog; with create_database_if_not_exists it creates the
// database in the instance's cluster (owned by the deployer, the identity that asked), otherwise the
// database must exist there.
func (e *emulator) catalogCreate(req testserver.Request) any {
	var cat database.DatabaseCatalog
	if err := json.Unmarshal(req.Body, &cat); err != nil {
		return badRequest("MALFORMED_REQUEST", err.Error())
	}
	if cat.Name == "" || cat.DatabaseInstanceName == "" || cat.DatabaseName == "" {
		return badRequest("INVALID_PARAMETER_VALUE", "name, database_instance_name and database_name are required")
	}
	w := req.Workspace
	unlock := w.LockUnlock()
	_, catalogExists := w.DatabaseCatalogs[cat.Name]
	unlock()
	if catalogExists {
		return errorResponse(http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "Catalog '"+cat.Name+"' already exists.")
	}
	c, fail := e.readyCluster(w, cat.DatabaseInstanceName)
	if fail != nil {
		return *fail
	}
	if cat.CreateDatabaseIfNotExists {
		if err := c.ensureDatabase(cat.DatabaseName, e.cfg.userName); err != nil {
			logf("EMULATOR ERROR: database catalog %s: postgres: %v", cat.Name, err)
			return errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator could not create the database: "+err.Error())
		}
	} else if exists, err := c.databaseExists(cat.DatabaseName); err != nil {
		return errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", err.Error())
	} else if !exists {
		return badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("Database '%s' does not exist in instance '%s'; set create_database_if_not_exists to create it.", cat.DatabaseName, cat.DatabaseInstanceName))
	}
	return req.Workspace.DatabaseCatalogCreate(req)
}

// credentials mints the Lakebase login token: always the configured db token, valid for an hour.
// (A wrong workspace token never gets here: authenticate answers 401.)
func (e *emulator) credentials(req testserver.Request) any {
	var body database.GenerateDatabaseCredentialRequest
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return badRequest("MALFORMED_REQUEST", err.Error())
	}
	if len(body.InstanceNames) == 0 {
		return badRequest("INVALID_PARAMETER_VALUE", "instance_names must name at least one database instance")
	}
	w := req.Workspace
	unlock := w.LockUnlock()
	var missing []string
	for _, name := range body.InstanceNames {
		if _, ok := w.DatabaseInstances[name]; !ok {
			missing = append(missing, name)
		}
	}
	unlock()
	if len(missing) > 0 {
		return notFound("Database instance(s) not found: " + strings.Join(missing, ", "))
	}
	return database.DatabaseCredential{
		Token:          e.cfg.dbToken,
		ExpirationTime: time.Now().UTC().Add(time.Hour).Format(time.RFC3339),
	}
}
