/**
 * The app role's (and read-only roles') access to the app schema: the GRANT / REVOKE / ALTER DEFAULT
 * PRIVILEGES statements that set it, and one catalog query that verifies it. The runner verifies first and
 * grants only when something is off, so a run with nothing to do writes nothing to the catalog.
 */
import pg from "pg";
import { ACCESS_LEVELS, MANAGED_PRIVILEGES, type ObjectKind, type RoleAccess } from "./access-levels";
import { HISTORY_SCHEMA, HISTORY_TABLE } from "./migration-history";

/** Something wrong with a role's access; `fixable` when running the grants can set it right. */
export interface AccessProblem {
  readonly message: string;
  readonly fixable: boolean;
  /** The database object the problem is on, e.g. `table app.notes` or `role "analysts"`. */
  readonly object: string;
}

const KEYWORD: Record<Exclude<ObjectKind, "schema">, { all: string; defaults: string }> = {
  table: { all: "ALL TABLES IN SCHEMA", defaults: "TABLES" },
  sequence: { all: "ALL SEQUENCES IN SCHEMA", defaults: "SEQUENCES" },
};

/**
 * Statements that give each role exactly its level: grant the level's privileges on the schema and on every
 * table and sequence in it, revoke the rest of the managed set, and the same as default privileges for
 * objects the deployer creates later (so a new migration's tables need no grant run). The app role may also
 * read the migration history, so the app can tell whether the migrations it needs are applied.
 */
export function grantStatements(
  schema: string,
  deployer: string,
  appRole: string,
  roles: readonly RoleAccess[],
): string[] {
  const s = pg.escapeIdentifier(schema);
  const forDeployer = `ALTER DEFAULT PRIVILEGES FOR ROLE ${pg.escapeIdentifier(deployer)} IN SCHEMA ${s}`;
  const app = pg.escapeIdentifier(appRole);
  const historyRead = [
    `GRANT USAGE ON SCHEMA ${HISTORY_SCHEMA} TO ${app}`,
    `GRANT SELECT ON ${HISTORY_TABLE} TO ${app}`,
  ];
  return historyRead.concat(
    roles.flatMap(({ role, level }) => {
      const r = pg.escapeIdentifier(role);
      const split = (kind: ObjectKind) => {
        const granted = ACCESS_LEVELS[level][kind];
        return {
          granted: granted.join(", "),
          revoked: MANAGED_PRIVILEGES[kind].filter((p) => !granted.includes(p)).join(", "),
        };
      };
      const schemaPrivileges = split("schema");
      const statements = [`GRANT ${schemaPrivileges.granted} ON SCHEMA ${s} TO ${r}`];
      if (schemaPrivileges.revoked) statements.push(`REVOKE ${schemaPrivileges.revoked} ON SCHEMA ${s} FROM ${r}`);
      for (const kind of ["table", "sequence"] as const) {
        const { granted, revoked } = split(kind);
        statements.push(
          `GRANT ${granted} ON ${KEYWORD[kind].all} ${s} TO ${r}`,
          `${forDeployer} GRANT ${granted} ON ${KEYWORD[kind].defaults} TO ${r}`,
        );
        if (revoked)
          statements.push(
            `REVOKE ${revoked} ON ${KEYWORD[kind].all} ${s} FROM ${r}`,
            `${forDeployer} REVOKE ${revoked} ON ${KEYWORD[kind].defaults} FROM ${r}`,
          );
      }
      return statements;
    }),
  );
}

/** Runs the statements in one implicit transaction (one multi-statement query): all or nothing. */
export async function grantAccess(db: pg.Client, statements: readonly string[]): Promise<void> {
  await db.query(statements.map((s) => `${s};`).join("\n"));
}

/**
 * Everything that differs from the wanted access, as the connected deployer sees it: each managed
 * privilege on the schema and on every table, view and sequence in it (has_*_privilege, so PUBLIC grants
 * and role memberships count), the deployer's default privileges (pg_default_acl), ownership of any of those
 * objects (directly or through membership), superuser, CONNECT and reading the history for the app role,
 * roles that do not exist.
 */
export async function findAccessProblems(
  db: pg.Client,
  schema: string,
  appRole: string,
  roles: readonly RoleAccess[],
): Promise<AccessProblem[]> {
  const wanted = roles.flatMap(({ role, level }) =>
    (Object.keys(MANAGED_PRIVILEGES) as ObjectKind[]).flatMap((kind) =>
      MANAGED_PRIVILEGES[kind].map((privilege) => ({
        role,
        kind,
        privilege,
        expected: ACCESS_LEVELS[level][kind].includes(privilege),
      })),
    ),
  );
  const { rows } = await db.query<AccessProblem>(VERIFY_ACCESS, [
    schema,
    JSON.stringify(wanted),
    appRole,
    roles.map((r) => r.role),
    HISTORY_SCHEMA,
    HISTORY_TABLE,
  ]);
  return rows;
}

const VERIFY_ACCESS = `
WITH app_schema AS (
  SELECT oid, nspname, nspowner FROM pg_namespace WHERE nspname = $1
), wanted AS (
  SELECT w.*, r.oid AS role_oid
    FROM jsonb_to_recordset($2::jsonb) AS w(role text, kind text, privilege text, expected boolean)
    JOIN pg_roles r ON r.rolname = w.role
), objects AS (
  SELECT 'schema' AS kind, s.oid, s.nspowner AS owner, format('schema %I', s.nspname) AS label FROM app_schema s
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, c.oid, c.relowner,
         format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                             WHEN 'f' THEN 'foreign table' ELSE 'table' END, s.nspname, c.relname)
    FROM pg_class c JOIN app_schema s ON c.relnamespace = s.oid
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
), actual AS (
  SELECT w.role, w.privilege, w.expected, o.label,
         CASE o.kind WHEN 'schema' THEN has_schema_privilege(w.role_oid, o.oid, w.privilege)
                     WHEN 'table' THEN has_table_privilege(w.role_oid, o.oid, w.privilege)
                     ELSE has_sequence_privilege(w.role_oid, o.oid, w.privilege) END AS held
    FROM wanted w JOIN objects o ON o.kind = w.kind
  UNION ALL
  SELECT w.role, w.privilege, w.expected,
         format('%s %I creates in schema %I (default privileges)', CASE w.kind WHEN 'table' THEN 'tables' ELSE 'sequences' END, current_user, s.nspname),
         EXISTS (SELECT 1 FROM pg_default_acl d, aclexplode(d.defaclacl) a
                  WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND d.defaclnamespace = s.oid
                    AND d.defaclobjtype = CASE w.kind WHEN 'table' THEN 'r' ELSE 'S' END
                    AND a.grantee = w.role_oid AND a.privilege_type = w.privilege)
    FROM wanted w CROSS JOIN app_schema s
   WHERE w.kind <> 'schema'
)
SELECT message, fixable, object FROM (
  SELECT format('schema %I does not exist', $1) AS message, true AS fixable, format('schema %I', $1) AS object
   WHERE NOT EXISTS (SELECT 1 FROM app_schema)
  UNION ALL
  SELECT format('role %I does not exist', name), false, format('role %I', name)
    FROM unnest($4::text[]) AS name WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name)
  UNION ALL
  SELECT format('role %I is a superuser', rolname), false, format('role %I', rolname) FROM pg_roles WHERE rolname = ANY ($4::text[]) AND rolsuper
  UNION ALL
  SELECT format('role %I lacks CONNECT on database %I (the app''s database resource grants it)', rolname, current_database()), false,
         format('database %I', current_database())
    FROM pg_roles WHERE rolname = $3 AND NOT has_database_privilege(oid, current_database(), 'CONNECT')
  UNION ALL
  SELECT format('role %I lacks %s on %s', r.rolname, h.privilege, h.label), true, h.label
    FROM pg_roles r CROSS JOIN LATERAL (VALUES
           ('USAGE', 'schema ' || $5::text, has_schema_privilege(r.oid, to_regnamespace($5)::oid, 'USAGE')),
           ('SELECT', 'table ' || $6::text, has_table_privilege(r.oid, to_regclass($6)::oid, 'SELECT'))
         ) AS h(privilege, label, held)
   WHERE r.rolname = $3 AND NOT coalesce(h.held, false)
  UNION ALL
  SELECT format('role %I owns %s%s', w.role, o.label,
                CASE WHEN w.role_oid <> o.owner THEN format(' (through its membership in %I)', pg_get_userbyid(o.owner)) ELSE '' END), false, o.label
    FROM (SELECT DISTINCT role, role_oid FROM wanted) w JOIN objects o ON pg_has_role(w.role_oid, o.owner, 'USAGE')
  UNION ALL
  SELECT format(CASE WHEN expected THEN 'role %I lacks %s on %s' ELSE 'role %I has %s on %s, beyond its access level' END, role, privilege, label), true, label
    FROM actual WHERE held <> expected
) problems
ORDER BY fixable, message`;
