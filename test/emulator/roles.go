package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/databricks/cli/libs/testserver"
	"github.com/databricks/databricks-sdk-go/service/database"
	"github.com/jackc/pgx/v5"
)

// Databricks identities. The workspace knows the deployer (a USER), every app's service principal (by
// its client id) and the identities seeded with -identity; anything else is unknown, as a user, group or
// service principal that was never added to the workspace is on the platform.

// identity is one seeded identity, written TYPE:name on the command line (e.g. GROUP:notes-analysts).
type identity struct {
	kind database.DatabaseInstanceRoleIdentityType
	name string
}

func parseIdentity(s string) (identity, error) {
	kind, name, ok := strings.Cut(s, ":")
	id := identity{kind: database.DatabaseInstanceRoleIdentityType(kind), name: name}
	switch id.kind {
	case database.DatabaseInstanceRoleIdentityTypeUser, database.DatabaseInstanceRoleIdentityTypeGroup, database.DatabaseInstanceRoleIdentityTypeServicePrincipal:
	default:
		ok = false
	}
	if !ok || name == "" {
		return id, fmt.Errorf("identity: %q is not TYPE:name with TYPE one of USER, GROUP, SERVICE_PRINCIPAL", s)
	}
	return id, nil
}

// identityKind is the type of the workspace identity called name, if there is one.
func (e *emulator) identityKind(w *testserver.FakeWorkspace, name string) (database.DatabaseInstanceRoleIdentityType, bool) {
	if name == e.cfg.userName {
		return database.DatabaseInstanceRoleIdentityTypeUser, true
	}
	for _, id := range e.cfg.identities {
		if id.name == name {
			return id.kind, true
		}
	}
	defer w.LockUnlock()()
	for _, app := range w.Apps {
		if app.ServicePrincipalClientId == name {
			return database.DatabaseInstanceRoleIdentityTypeServicePrincipal, true
		}
	}
	return "", false
}

// Instance roles API (SDK CreateDatabaseInstanceRole etc.): the Postgres roles of an instance, read from
// and written to its cluster. The POST body is the role itself, not wrapped.
func (e *emulator) registerRoles() {
	s := e.server
	s.Handle("POST", "/api/2.0/database/instances/{instance}/roles", e.roleCreate)
	s.Handle("GET", "/api/2.0/database/instances/{instance}/roles", e.roleList)
	s.Handle("GET", "/api/2.0/database/instances/{instance}/roles/{name}", e.roleGet)
	s.Handle("DELETE", "/api/2.0/database/instances/{instance}/roles/{name}", e.roleDelete)
}

// roleCreate creates a LOGIN role named after a workspace identity (any name for PG_ONLY), a member of
// databricks_superuser with membership_role DATABRICKS_SUPERUSER, with the requested attributes.
func (e *emulator) roleCreate(req testserver.Request) any {
	instance := req.Vars["instance"]
	var role database.DatabaseInstanceRole
	if err := json.Unmarshal(req.Body, &role); err != nil {
		return badRequest("MALFORMED_REQUEST", err.Error())
	}
	if role.Name == "" {
		return badRequest("INVALID_PARAMETER_VALUE", "name is required")
	}
	switch role.IdentityType {
	case database.DatabaseInstanceRoleIdentityTypePgOnly:
	case database.DatabaseInstanceRoleIdentityTypeUser, database.DatabaseInstanceRoleIdentityTypeGroup, database.DatabaseInstanceRoleIdentityTypeServicePrincipal:
		if kind, ok := e.identityKind(req.Workspace, role.Name); !ok || kind != role.IdentityType {
			return badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("Cannot create role '%s': there is no %s named '%s' in this workspace.", role.Name, role.IdentityType, role.Name))
		}
	default:
		return badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("identity_type must be one of USER, GROUP, SERVICE_PRINCIPAL, PG_ONLY, not %q", role.IdentityType))
	}
	options := []string{"LOGIN"}
	switch role.MembershipRole {
	case "":
	case database.DatabaseInstanceRoleMembershipRoleDatabricksSuperuser:
		options = append(options, "IN ROLE databricks_superuser")
	default:
		return badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("membership_role must be DATABRICKS_SUPERUSER, not %q", role.MembershipRole))
	}
	if a := role.Attributes; a != nil {
		if a.Createdb {
			options = append(options, "CREATEDB")
		}
		if a.Createrole {
			options = append(options, "CREATEROLE")
		}
		if a.Bypassrls {
			options = append(options, "BYPASSRLS")
		}
	}
	c, fail := e.readyCluster(req.Workspace, instance)
	if fail != nil {
		return *fail
	}
	err := c.withConn("postgres", func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "CREATE ROLE "+ident(role.Name)+" "+strings.Join(options, " "))
		return err
	})
	if isCode(err, "42710") { // duplicate_object
		return errorResponse(http.StatusConflict, "ALREADY_EXISTS", fmt.Sprintf("Role '%s' already exists in database instance '%s'.", role.Name, instance))
	}
	if err != nil {
		return errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator could not create the role: "+err.Error())
	}
	return e.role(req.Workspace, instance, role.Name)
}

// instanceRoles reads the roles of an instance from its cluster (all but the emulator's own superuser,
// PostgreSQL's pg_* roles and databricks_superuser), optionally only the one called name.
func (e *emulator) instanceRoles(w *testserver.FakeWorkspace, instance, name string) ([]database.DatabaseInstanceRole, *testserver.Response) {
	c, fail := e.readyCluster(w, instance)
	if fail != nil {
		return nil, fail
	}
	var roles []database.DatabaseInstanceRole
	err := c.withConn("postgres", func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT r.rolname, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls,
			       EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles s ON s.oid = m.roleid
			                WHERE m.member = r.oid AND s.rolname = 'databricks_superuser')
			  FROM pg_roles r
			 WHERE NOT r.rolsuper AND r.rolname NOT LIKE 'pg\_%' AND r.rolname <> 'databricks_superuser'
			   AND ($1 = '' OR r.rolname = $1)
			 ORDER BY r.rolname`, name)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var role database.DatabaseInstanceRole
			var attrs database.DatabaseInstanceRoleAttributes
			var superuserMember bool
			if err := rows.Scan(&role.Name, &attrs.Createdb, &attrs.Createrole, &attrs.Bypassrls, &superuserMember); err != nil {
				return err
			}
			attrs.ForceSendFields = []string{"Createdb", "Createrole", "Bypassrls"}
			role.EffectiveAttributes = &attrs
			role.InstanceName = instance
			if superuserMember {
				role.MembershipRole = database.DatabaseInstanceRoleMembershipRoleDatabricksSuperuser
			}
			roles = append(roles, role)
		}
		return rows.Err()
	})
	if err != nil {
		r := errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator could not read the roles: "+err.Error())
		return nil, &r
	}
	for i := range roles {
		kind, ok := e.identityKind(w, roles[i].Name)
		if !ok {
			kind = database.DatabaseInstanceRoleIdentityTypePgOnly
		}
		roles[i].IdentityType = kind
	}
	return roles, nil
}

func (e *emulator) roleList(req testserver.Request) any {
	roles, fail := e.instanceRoles(req.Workspace, req.Vars["instance"], "")
	if fail != nil {
		return *fail
	}
	return database.ListDatabaseInstanceRolesResponse{DatabaseInstanceRoles: roles}
}

func (e *emulator) roleGet(req testserver.Request) any {
	return e.role(req.Workspace, req.Vars["instance"], req.Vars["name"])
}

func (e *emulator) role(w *testserver.FakeWorkspace, instance, name string) any {
	roles, fail := e.instanceRoles(w, instance, name)
	if fail != nil {
		return *fail
	}
	if len(roles) == 0 {
		return notFound(fmt.Sprintf("Role '%s' does not exist in database instance '%s'.", name, instance))
	}
	return roles[0]
}

// roleDelete drops the role. With reassign_owned_to, what it owns goes to that role first (in every
// database) and its privileges are revoked; without it, a role that owns or holds anything cannot be
// dropped, as in PostgreSQL. allow_missing=true makes deleting a missing role a success.
func (e *emulator) roleDelete(req testserver.Request) any {
	instance, name := req.Vars["instance"], req.Vars["name"]
	query := req.URL.Query()
	c, fail := e.readyCluster(req.Workspace, instance)
	if fail != nil {
		return *fail
	}
	roles, fail := e.instanceRoles(req.Workspace, instance, name)
	if fail != nil {
		return *fail
	}
	if len(roles) == 0 {
		if query.Get("allow_missing") == "true" {
			return map[string]any{}
		}
		return notFound(fmt.Sprintf("Role '%s' does not exist in database instance '%s'.", name, instance))
	}
	err := c.withConn("postgres", func(ctx context.Context, conn *pgx.Conn) error {
		if to := query.Get("reassign_owned_to"); to != "" {
			rows, _ := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datallowconn")
			databases, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			for _, db := range databases {
				if err := c.withConn(db, func(ctx context.Context, conn *pgx.Conn) error {
					_, err := conn.Exec(ctx, "REASSIGN OWNED BY "+ident(name)+" TO "+ident(to)+"; DROP OWNED BY "+ident(name))
					return err
				}); err != nil {
					return err
				}
			}
		}
		_, err := conn.Exec(ctx, "DROP ROLE "+ident(name))
		return err
	})
	if isCode(err, "2BP01") { // dependent_objects_still_exist
		return badRequest("INVALID_PARAMETER_VALUE", fmt.Sprintf("Role '%s' cannot be deleted: %v; set reassign_owned_to.", name, err))
	}
	if err != nil {
		return errorResponse(http.StatusInternalServerError, "INTERNAL_ERROR", "emulator could not delete the role: "+err.Error())
	}
	return map[string]any{}
}

// knownPrincipal checks an ACL entry's principal the way the permissions API does.
func (e *emulator) knownPrincipal(w *testserver.FakeWorkspace, userName, groupName, spName string) error {
	var kind database.DatabaseInstanceRoleIdentityType
	var name, label string
	switch {
	case userName != "":
		kind, name, label = database.DatabaseInstanceRoleIdentityTypeUser, userName, "UserName"
	case groupName != "":
		if slices.Contains([]string{"users", "admins"}, groupName) { // every workspace has these
			return nil
		}
		kind, name, label = database.DatabaseInstanceRoleIdentityTypeGroup, groupName, "GroupName"
	case spName != "":
		kind, name, label = database.DatabaseInstanceRoleIdentityTypeServicePrincipal, spName, "ServicePrincipalName"
	default:
		return nil
	}
	if k, ok := e.identityKind(w, name); !ok || k != kind {
		return fmt.Errorf("Principal: %s(%s) does not exist", label, name)
	}
	return nil
}
