/**
 * The database half of the drift check, through the post-apply runner's own credential path and checks:
 * the migration files against the history, the configured roles' access (the runner's verification
 * query) and ownership of everything in the app schema. Read-only: the session is switched to read-only
 * transactions before the first query, and it takes no advisory lock, runs no DDL and grants nothing.
 */
import pg from "pg";
import { type AccessProblem, findAccessProblems } from "../post-apply/access";
import type { PostApplyInputs } from "../lib/post-apply-inputs";
import type { MigrationFile } from "../post-apply/migration-files";
import { compareHistory, readHistory } from "../post-apply/migration-history";
import { rolesToGrant } from "../post-apply/post-apply";
import { inStep } from "../post-apply/step-error";
import type { Finding } from "./findings";

export interface DatabaseProbe {
  readonly environment: string;
  readonly inputs: PostApplyInputs;
  readonly files: readonly MigrationFile[];
  /** The deploying identity's role, which should own everything in the app schema. */
  readonly deployer: string;
}

export async function databaseFindings(db: pg.Client, probe: DatabaseProbe): Promise<Finding[]> {
  await db.query("SET default_transaction_read_only = on");
  const { inputs } = probe;
  const applied = await inStep("migrations", () => readHistory(db, inputs.schema));
  const access = await inStep("verify", () =>
    findAccessProblems(db, inputs.schema, inputs.appRole, rolesToGrant(inputs)),
  );
  const owners = await inStep("ownership", () => foreignOwners(db, inputs.schema, probe.deployer));
  return [
    ...migrationFindings(probe, compareHistory(probe.files, applied)),
    ...access.map((problem): Finding => {
      const role = missingReadOnlyRole(problem, inputs);
      if (role) {
        return {
          check: "roles",
          class: "out-of-band",
          object: `Lakebase role "${role}" (database.readOnlyRoles of ${inputs.configFile})`,
          expected: "exists on the instance, with read-only access to the app schema",
          found: "missing",
          severity: "high",
          remediation: `npm run migrate -- ${probe.environment} (or a deploy) creates it through the instance roles API and grants it; or remove it from database.readOnlyRoles`,
        };
      }
      return {
        check: "access",
        class: "out-of-band",
        object: `${problem.object} (database "${inputs.database}")`,
        expected: "access exactly as database.appAccess / database.readOnlyRoles say",
        found: problem.message,
        severity: "high",
        remediation: problem.fixable
          ? `npm run migrate -- ${probe.environment} restores the configured grants`
          : "fix by hand (grants cannot): see the found text",
      };
    }),
    ...owners.map(
      ({ label, owner }): Finding => ({
        check: "ownership",
        class: "out-of-band",
        object: label,
        expected: `owned by "${probe.deployer}"`,
        found: `owned by "${owner}"`,
        severity: "high",
        remediation: `as its owner or a superuser: ALTER ... OWNER TO "${probe.deployer}", so migrations and grants keep working`,
      }),
    ),
  ];
}

function migrationFindings(
  { environment, inputs }: DatabaseProbe,
  history: ReturnType<typeof compareHistory>,
): Finding[] {
  const migrate = `npm run migrate -- ${environment} (or deploy)`;
  const where = `schema "${inputs.schema}"`;
  return [
    ...history.pending
      .filter((file) => !history.overtaken.includes(file))
      .map(
        (file): Finding => ({
          check: "migrations",
          class: "unapplied",
          object: `migration ${file.name}`,
          expected: `applied to ${where}`,
          found: "pending (not applied)",
          severity: "low",
          remediation: migrate,
        }),
      ),
    ...history.overtaken.map(
      (file): Finding => ({
        check: "migrations",
        class: "unapplied",
        object: `migration ${file.name}`,
        expected: `applied to ${where} before later migrations`,
        found: "not applied, but a later migration is",
        severity: "high",
        remediation: "renumber it after the last applied migration",
      }),
    ),
    ...history.changed.map(
      ({ file, record }): Finding => ({
        check: "migrations",
        class: "unapplied",
        object: `migration ${file.name}`,
        expected: `sha256 ${record.checksum.slice(0, 12)}… (as applied at ${record.applied_at.toISOString()})`,
        found: `sha256 ${file.checksum.slice(0, 12)}… (edited after it was applied)`,
        severity: "high",
        remediation: "restore the file as applied and put the change in a new migration",
      }),
    ),
    ...history.missing.map(
      (record): Finding => ({
        check: "migrations",
        class: "unapplied",
        object: `migration ${record.name}`,
        expected: `in ${inputs.migrationsDir} (applied at ${record.applied_at.toISOString()})`,
        found: "missing from the repository",
        severity: "high",
        remediation: "restore the file (migrations are forward-only)",
      }),
    ),
  ];
}

/**
 * The configured read-only role a "does not exist" access problem is about (the app's own role is the
 * platform's to create). The query names it as format('%I') does: quoted only when it has to be.
 */
function missingReadOnlyRole(problem: AccessProblem, inputs: PostApplyInputs): string | undefined {
  if (!/ does not exist$/.test(problem.message)) return undefined;
  return inputs.readOnlyRoles.find((role) =>
    [`role ${role}`, `role ${pg.escapeIdentifier(role)}`].includes(problem.object),
  );
}

/** The schema and every relation and function in it whose owner is not the deployer. */
async function foreignOwners(
  db: pg.Client,
  schema: string,
  deployer: string,
): Promise<{ label: string; owner: string }[]> {
  const { rows } = await db.query<{ label: string; owner: string }>(FOREIGN_OWNERS, [schema, deployer]);
  return rows;
}

const FOREIGN_OWNERS = `
SELECT label, owner FROM (
  SELECT format('schema %I', nspname) AS label, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1
  UNION ALL
  SELECT format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                         WHEN 'f' THEN 'foreign table' ELSE 'table' END, n.nspname, c.relname), pg_get_userbyid(c.relowner)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  UNION ALL
  SELECT format('function %s', p.oid::regprocedure), pg_get_userbyid(p.proowner)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
) objects
WHERE owner <> $2
ORDER BY label`;
