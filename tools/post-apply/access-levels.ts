/**
 * What each access level means in privileges, per kind of object in the app schema. The runner grants
 * exactly these and revokes the rest of the managed set, so switching `appAccess` from readWrite to
 * readOnly really takes the write privileges away.
 */
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
