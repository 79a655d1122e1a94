/**
 * What each access level means in privileges, per kind of object in the app schema, and which role gets
 * which level. The runner grants exactly these and revokes the rest of the managed set, so switching
 * `appAccess` from readWrite to readOnly really takes the write privileges away; drift checks the same.
 */
import { StepError } from "../step-error";

export type ObjectKind = "schema" | "table" | "sequence";

export type AccessLevel = "readWrite" | "readOnly";

/** The privileges the runner manages, per kind: each one either granted by the level or revoked. */
export const MANAGED_PRIVILEGES: Readonly<Record<ObjectKind, readonly string[]>> = {
  // CREATE on the schema would let the role own objects in it.
  schema: ["USAGE", "CREATE"],
  table: ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"],
  sequence: ["USAGE", "SELECT", "UPDATE"],
};

export const ACCESS_LEVELS: Readonly<Record<AccessLevel, Readonly<Record<ObjectKind, readonly string[]>>>> = {
  readWrite: {
    schema: ["USAGE"],
    table: ["SELECT", "INSERT", "UPDATE", "DELETE"],
    sequence: ["USAGE", "SELECT", "UPDATE"],
  },
  // No UPDATE on sequences (setval). USAGE still allows nextval(), which can only burn numbers.
  readOnly: {
    schema: ["USAGE"],
    table: ["SELECT"],
    sequence: ["USAGE", "SELECT"],
  },
};

/** A role and the access level it should have on the app schema. */
export interface RoleAccess {
  readonly role: string;
  readonly level: AccessLevel;
}

/** Who should have access to the app schema, as the configuration says (the post-apply runner's inputs are one). */
export interface SchemaAccess {
  /** The app service principal's client id, which is its Postgres role name. */
  readonly appRole: string;
  readonly appAccess: AccessLevel;
  /** Workspace identities with read-only access. */
  readonly readOnlyRoles: readonly string[];
}

/** The app role at its configured level, then each extra read-only role once. */
export function rolesToGrant(access: SchemaAccess): RoleAccess[] {
  if (access.readOnlyRoles.includes(access.appRole)) {
    throw new StepError(
      "inputs",
      `the app role "${access.appRole}" is also listed as a read-only role; its access is set by appAccess`,
    );
  }
  return [
    { role: access.appRole, level: access.appAccess },
    ...[...new Set(access.readOnlyRoles)].map((role) => ({ role, level: "readOnly" as const })),
  ];
}
