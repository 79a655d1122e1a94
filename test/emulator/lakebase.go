package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/databricks/cli/libs/testserver"
	"github.com/databricks/databricks-sdk-go/service/database"
)

// Lakebase (database instances, catalogs, credentials). The test server's instance PATCH decodes the
// body as {"database_instance": {...}} while the SDK sends the bare instance, so an update wiped the
// stored instance; its DELETE demands purge=true, which provider 1.99 never sends unless
// purge_on_delete is set; and its effective_* fields are fixed at create. These handlers keep the
// submitted spec and derive state and effective_* from it on every write.
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
}

// The spec fields PATCH may change (all of them when update_mask is absent or "*").
var instanceSpecFields = []string{
	"capacity", "custom_tags", "enable_pg_native_login", "enable_readable_secondaries", "node_count",
	"retention_window_in_days", "stopped", "usage_policy_id",
}

// withDerivedFields fills in what the platform computes from the spec: where to connect, the state and
// the effective_* values a drift check compares with the configuration.
func (e *emulator) withDerivedFields(inst database.DatabaseInstance) database.DatabaseInstance {
	inst.ReadWriteDns = e.cfg.pgHost
	inst.ReadOnlyDns = ""
	if inst.EnableReadableSecondaries {
		inst.ReadOnlyDns = e.cfg.pgHost
	}
	inst.State = database.DatabaseInstanceStateAvailable
	if inst.Stopped {
		inst.State = database.DatabaseInstanceStateStopped
	}
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
	unlock := w.LockUnlock()
	if _, exists := w.DatabaseInstances[inst.Name]; exists {
		unlock()
		return errorResponse(http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "Database instance '"+inst.Name+"' already exists.")
	}
	inst.Uid = uuidFor("database-instance", inst.Name+"@"+time.Now().Format(time.RFC3339Nano))
	inst.Creator = e.cfg.userName
	inst.CreationTime = time.Now().UTC().Format(time.RFC3339)
	inst = e.withDerivedFields(inst)
	w.DatabaseInstances[inst.Name] = inst
	unlock()

	if err := e.pg.ensureDeployer(e.cfg.userName, e.cfg.dbToken); err != nil {
		logf("EMULATOR ERROR: database instance %s: postgres: %v", inst.Name, err)
		return errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator could not prepare PostgreSQL: "+err.Error())
	}
	return inst
}

func (e *emulator) instanceGet(req testserver.Request) any {
	w := req.Workspace
	defer w.LockUnlock()()
	inst, ok := w.DatabaseInstances[req.Vars["name"]]
	if !ok {
		return notFound("Database instance '" + req.Vars["name"] + "' does not exist.")
	}
	return inst
}

func (e *emulator) instanceList(req testserver.Request) any {
	w := req.Workspace
	defer w.LockUnlock()()
	names := make([]string, 0, len(w.DatabaseInstances))
	for name := range w.DatabaseInstances {
		names = append(names, name)
	}
	sort.Strings(names)
	list := make([]database.DatabaseInstance, 0, len(names))
	for _, name := range names {
		list = append(list, w.DatabaseInstances[name])
	}
	return database.ListDatabaseInstancesResponse{DatabaseInstances: list}
}

// instanceUpdate applies the fields named in update_mask (all spec fields without one). This is also
// how a test changes an instance "out of band" to provoke drift.
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
	defer w.LockUnlock()()
	existing, ok := w.DatabaseInstances[name]
	if !ok {
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
		return badRequest("INVALID_PARAMETER_VALUE", err.Error())
	}
	if updated.RetentionWindowInDays != 0 && (updated.RetentionWindowInDays < 2 || updated.RetentionWindowInDays > 35) {
		return badRequest("INVALID_PARAMETER_VALUE", "retention_window_in_days must be between 2 and 35")
	}
	updated.Name, updated.Uid, updated.Creator, updated.CreationTime = existing.Name, existing.Uid, existing.Creator, existing.CreationTime
	updated = e.withDerivedFields(updated)
	w.DatabaseInstances[name] = updated
	return updated
}

// instanceDelete is a hard delete; purge=false is rejected as by the API ("omitting or true means hard
// delete"). The PostgreSQL behind it is shared and left alone.
func (e *emulator) instanceDelete(req testserver.Request) any {
	if req.URL.Query().Get("purge") == "false" {
		return badRequest("INVALID_PARAMETER_VALUE", "purge=false is not supported")
	}
	name := req.Vars["name"]
	w := req.Workspace
	defer w.LockUnlock()()
	if _, ok := w.DatabaseInstances[name]; !ok {
		return notFound("Database instance '" + name + "' does not exist.")
	}
	delete(w.DatabaseInstances, name)
	return map[string]any{}
}

// catalogCreate registers a database as a catalog; with create_database_if_not_exists it creates the
// database (owned by the deployer, the identity that asked), otherwise the database must exist.
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
	_, instanceExists := w.DatabaseInstances[cat.DatabaseInstanceName]
	_, catalogExists := w.DatabaseCatalogs[cat.Name]
	unlock()
	if !instanceExists {
		return notFound("Database instance '" + cat.DatabaseInstanceName + "' does not exist.")
	}
	if catalogExists {
		return errorResponse(http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "Catalog '"+cat.Name+"' already exists.")
	}
	if e.pg.enabled() {
		if cat.CreateDatabaseIfNotExists {
			if err := e.pg.ensureDatabase(cat.DatabaseName, e.cfg.userName); err != nil {
				logf("EMULATOR ERROR: database catalog %s: postgres: %v", cat.Name, err)
				return errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator could not create the database: "+err.Error())
			}
		} else if exists, err := e.pg.databaseExists(cat.DatabaseName); err != nil {
			return errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", err.Error())
		} else if !exists {
			return badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("Database '%s' does not exist in instance '%s'; set create_database_if_not_exists to create it.", cat.DatabaseName, cat.DatabaseInstanceName))
		}
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
