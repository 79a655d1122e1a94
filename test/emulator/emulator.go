package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/databricks/cli/libs/testserver"
	"github.com/databricks/databricks-sdk-go/service/apps"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// emulator holds what the test server's FakeWorkspace does not: the instances' PostgreSQL clusters,
// per-workspace extras (secret timestamps, deployments, workspace paths we created) and the
// unhandled-route log. (Only one token is accepted, so in practice there is one workspace.)
type emulator struct {
	cfg    config
	pg     *postgresServers
	server *testserver.Server

	mu        sync.Mutex
	extras    map[*testserver.FakeWorkspace]*extras
	unhandles []string
}

type extras struct {
	secretUpdated     map[string]int64                // "scope\x00key" -> ms since epoch
	deployments       map[string][]apps.AppDeployment // by app, oldest first
	failNext          map[string]string               // app -> message its next deployment fails with
	computeGeneration map[string]int                  // app -> count of compute transitions started
	paths             map[string]bool                 // workspace paths created through import or mkdirs
}

func newEmulator(cfg config, pg *postgresServers, server *testserver.Server) *emulator {
	return &emulator{cfg: cfg, pg: pg, server: server, extras: map[*testserver.FakeWorkspace]*extras{}}
}

// extrasFor returns the extra state kept for a workspace; callers hold e.mu.
func (e *emulator) extrasFor(w *testserver.FakeWorkspace) *extras {
	x, ok := e.extras[w]
	if !ok {
		x = &extras{secretUpdated: map[string]int64{}, deployments: map[string][]apps.AppDeployment{},
			failNext: map[string]string{}, computeGeneration: map[string]int{}, paths: map[string]bool{}}
		e.extras[w] = x
	}
	return x
}

func (e *emulator) register() {
	s := e.server
	s.Handle("GET", "/_emulator/info", func(testserver.Request) any {
		return map[string]any{"url": s.URL, "user_name": e.cfg.userName, "pg_port": e.pg.port}
	})
	s.Handle("GET", "/_emulator/database-instances/{name}/postgres", e.superuserConnection)
	s.Handle("GET", "/_emulator/unhandled", func(testserver.Request) any {
		e.mu.Lock()
		defer e.mu.Unlock()
		return map[string]any{"requests": append([]string{}, e.unhandles...)}
	})
	s.Handle("POST", "/_emulator/serving-endpoints", e.seedServingEndpoint)

	s.Handle("GET", "/api/2.0/preview/scim/v2/Me", e.me)
	s.Handle("PUT", "/api/2.0/permissions/{object_type}/{object_id}", e.setPermissions)

	e.registerLakebase()
	e.registerApps()
	e.registerSecrets()
	e.registerWorkspace()
}

// authenticate answers 401 to any API request whose bearer token is not the configured workspace token,
// like a workspace does for a wrong or expired PAT. The emulator's own routes and the SDK's host
// metadata discovery are open.
func (e *emulator) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		open := r.URL.Path == "/_emulator/info" || r.URL.Path == "/_emulator/unhandled" ||
			strings.HasPrefix(r.URL.Path, "/_emulator/database-instances/") ||
			strings.HasPrefix(r.URL.Path, "/.well-known/") || strings.HasPrefix(r.URL.Path, "/oidc/")
		if !open && r.Header.Get("Authorization") != "Bearer "+e.cfg.workspaceToken {
			logf("401 %s %s: bearer token is not the workspace token", r.Method, r.URL.Path)
			writeJSON(w, http.StatusUnauthorized, apiError{"UNAUTHENTICATED", "Invalid access token."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unhandled replaces the test server's fallback, which prints advice for the CLI's own acceptance
// tests: here an unknown route is a bug in a test (or a gap in this emulator) and must be visible.
func (e *emulator) unhandled(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 2048))
	line := fmt.Sprintf("%s %s", r.Method, r.URL.RequestURI())
	logf("EMULATOR UNHANDLED ROUTE: %s body=%s", line, bytes.TrimSpace(body))
	e.mu.Lock()
	e.unhandles = append(e.unhandles, line)
	e.mu.Unlock()
	writeJSON(w, http.StatusNotImplemented, apiError{"NOT_IMPLEMENTED", "the Databricks emulator has no handler for " + line})
}

func (e *emulator) unhandledCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.unhandles)
}

// seed creates what the workspace has before any test runs: the deployer's home folder and the
// configured serving endpoints. It goes through the HTTP API so the objects land in the workspace
// that belongs to the configured token.
func (e *emulator) seed() error {
	call := func(path string, body any) error {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", e.server.URL+path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+e.cfg.workspaceToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("seeding %s: %w", path, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("seeding %s: HTTP %d: %s", path, resp.StatusCode, msg)
		}
		return nil
	}
	if err := call("/api/2.0/workspace/mkdirs", map[string]string{"path": "/Users/" + e.cfg.userName}); err != nil {
		return err
	}
	for _, name := range e.cfg.servingEndpoints {
		if err := call("/_emulator/serving-endpoints", map[string]string{"name": name}); err != nil {
			return err
		}
	}
	return nil
}

// seedServingEndpoint stores a READY serving endpoint that the stack can bind to an app by name, the
// way it references endpoints that exist outside Terraform.
func (e *emulator) seedServingEndpoint(req testserver.Request) any {
	var body struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(req.Body, &body); err != nil || body.Name == "" {
		return badRequest("INVALID_PARAMETER_VALUE", "body must be {\"name\": \"<endpoint name>\"}")
	}
	w := req.Workspace
	defer w.LockUnlock()()
	w.ServingEndpoints[body.Name] = serving.ServingEndpointDetailed{
		Id:              uuidFor("serving-endpoint", body.Name),
		Name:            body.Name,
		Creator:         e.cfg.userName,
		PermissionLevel: serving.ServingEndpointDetailedPermissionLevelCanManage,
		State: &serving.EndpointState{
			ConfigUpdate: serving.EndpointStateConfigUpdateNotUpdating,
			Ready:        serving.EndpointStateReadyReady,
		},
		CreationTimestamp: time.Now().UnixMilli(),
	}
	return w.ServingEndpoints[body.Name]
}

// superuserConnection (emulator only, no auth) gives a test the superuser login of an instance's
// cluster, which the platform never hands out: to look at or tamper with the database directly.
func (e *emulator) superuserConnection(req testserver.Request) any {
	name := req.Vars["name"]
	c := e.pg.get(name)
	if c == nil {
		return notFound("Database instance '" + name + "' does not exist.")
	}
	if state, _ := c.status(); state != clusterReady {
		return errorResponse(http.StatusConflict, "RESOURCE_CONFLICT", "the PostgreSQL of database instance '"+name+"' is not accepting connections (the instance is not AVAILABLE)")
	}
	return map[string]any{"host": c.host, "port": e.pg.port, "user": superuser, "password": e.pg.password, "database": "postgres"}
}

// setPermissions refuses an ACL naming a principal the workspace does not know, then lets the test
// server store it.
func (e *emulator) setPermissions(req testserver.Request) any {
	var update iam.SetObjectPermissions
	if err := json.Unmarshal(req.Body, &update); err != nil {
		return badRequest("MALFORMED_REQUEST", err.Error())
	}
	for _, acl := range update.AccessControlList {
		if err := e.knownPrincipal(req.Workspace, acl.UserName, acl.GroupName, acl.ServicePrincipalName); err != nil {
			return badRequest("INVALID_PARAMETER_VALUE", err.Error())
		}
	}
	return req.Workspace.SetPermissions(req)
}

func (e *emulator) me(req testserver.Request) any {
	return testserver.Response{
		Headers: http.Header{"X-Databricks-Org-Id": {"900800700600"}, "Content-Type": {"application/json"}},
		Body: iam.User{
			Id:          testserver.UserID,
			UserName:    e.cfg.userName,
			DisplayName: e.cfg.userName,
			Active:      true,
			Emails:      []iam.ComplexValue{{Value: e.cfg.userName, Primary: true}},
		},
	}
}

// ---- secrets: list (databricks_secret's Read) and delete, both missing from the test server ----

func (e *emulator) registerSecrets() {
	s := e.server
	// The creator of a scope gets MANAGE on it; the test server grants that to its fixed test user.
	s.Handle("POST", "/api/2.0/secrets/scopes/create", func(req testserver.Request) any {
		resp := req.Workspace.SecretsCreateScope(req)
		if resp.StatusCode == 0 || resp.StatusCode == http.StatusOK {
			var create workspace.CreateScope
			_ = json.Unmarshal(req.Body, &create)
			w := req.Workspace
			defer w.LockUnlock()()
			for i, acl := range w.Acls[create.Scope] {
				if acl.Principal == testserver.TestUser.UserName {
					w.Acls[create.Scope][i].Principal = e.cfg.userName
				}
			}
			return map[string]any{}
		}
		return resp
	})
	s.Handle("POST", "/api/2.0/secrets/put", func(req testserver.Request) any {
		resp := req.Workspace.SecretsPut(req)
		if resp.StatusCode == 0 || resp.StatusCode == http.StatusOK {
			var put workspace.PutSecret
			_ = json.Unmarshal(req.Body, &put)
			e.mu.Lock()
			e.extrasFor(req.Workspace).secretUpdated[put.Scope+"\x00"+put.Key] = time.Now().UnixMilli()
			e.mu.Unlock()
		}
		return resp
	})

	s.Handle("GET", "/api/2.0/secrets/list", func(req testserver.Request) any {
		scope := req.URL.Query().Get("scope")
		w := req.Workspace
		unlock := w.LockUnlock()
		_, exists := w.SecretScopes[scope]
		keys := make([]string, 0, len(w.Secrets[scope]))
		for key := range w.Secrets[scope] {
			keys = append(keys, key)
		}
		unlock()
		if !exists {
			return notFound("Scope " + scope + " does not exist!")
		}
		sort.Strings(keys)
		e.mu.Lock()
		defer e.mu.Unlock()
		x := e.extrasFor(w)
		secrets := make([]workspace.SecretMetadata, 0, len(keys))
		for _, key := range keys {
			secrets = append(secrets, workspace.SecretMetadata{Key: key, LastUpdatedTimestamp: x.secretUpdated[scope+"\x00"+key]})
		}
		return workspace.ListSecretsResponse{Secrets: secrets}
	})

	s.Handle("POST", "/api/2.0/secrets/delete", func(req testserver.Request) any {
		var del workspace.DeleteSecret
		if err := json.Unmarshal(req.Body, &del); err != nil {
			return badRequest("MALFORMED_REQUEST", err.Error())
		}
		w := req.Workspace
		unlock := w.LockUnlock()
		_, scopeExists := w.SecretScopes[del.Scope]
		_, keyExists := w.Secrets[del.Scope][del.Key]
		if scopeExists && keyExists {
			delete(w.Secrets[del.Scope], del.Key)
		}
		unlock()
		switch {
		case !scopeExists:
			return notFound("Scope " + del.Scope + " does not exist!")
		case !keyExists:
			return notFound(fmt.Sprintf("Secret %s does not exist in scope %s!", del.Key, del.Scope))
		}
		e.mu.Lock()
		delete(e.extrasFor(w).secretUpdated, del.Scope+"\x00"+del.Key)
		e.mu.Unlock()
		return map[string]any{}
	})
}

// ---- errors and small helpers ----

type apiError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

func errorResponse(status int, code, message string) testserver.Response {
	return testserver.Response{StatusCode: status, Body: apiError{code, message}}
}

func badRequest(code, message string) testserver.Response {
	return errorResponse(http.StatusBadRequest, code, message)
}

func notFound(message string) testserver.Response {
	return errorResponse(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", message)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
