import { BACKEND, type NagRule, NagRuleCompliance } from "../nag-rule";

/** Backends that keep state off the deploying machine, by kind: whether these settings also lock it. */
const LOCKS: Readonly<Record<string, (settings: Record<string, unknown>) => boolean>> = {
  s3: (s) => s.use_lockfile === true || typeof s.dynamodb_table === "string",
  azurerm: () => true, // blob leases
  gcs: () => true, // lock files in the bucket
  remote: () => true, // HCP Terraform workspace locks
};

/**
 * A production environment keeps its state in a remote backend that locks: a local file is lost with the
 * machine (or a clean checkout) and lets two deploys run at once. One finding (the backend kind), which
 * `backend.reason` in the YAML accepts.
 */
export const ProductionRemoteState: NagRule = {
  id: "DBX-ProductionRemoteState",
  message: ({ file }) =>
    "production state must be in a remote backend that locks, or one lost file or two concurrent deploys break the environment: " +
    `in ${file} set backend to s3 (with its lock file or a dynamodbTable), azurerm, gcs or remote (README: Terraform state), or give backend.reason to keep local state`,
  check: ({ type, attributes }, environment) => {
    if (!environment.production || type !== BACKEND) return NagRuleCompliance.NOT_APPLICABLE;
    const [kind, settings] = Object.entries(attributes)[0] as [string, Record<string, unknown>];
    if (LOCKS[kind]?.(settings)) return NagRuleCompliance.COMPLIANT;
    return [kind in LOCKS ? `${kind} without a lock` : kind];
  },
};
