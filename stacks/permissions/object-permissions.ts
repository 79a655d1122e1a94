import { Construct } from "constructs";
import {
  Permissions,
  type PermissionsAccessControl,
  type PermissionsConfig,
} from "@cdktf/provider-databricks/lib/permissions";
import type { PrincipalGrant } from "../config/schema";

export interface ObjectPermissionsProps {
  /** The object, as the one `databricks_permissions` field that names it (e.g. `{ appName }`). */
  readonly object: Pick<PermissionsConfig, "appName" | "databaseInstanceName">;
  /** Who gets which level; at least one (an empty access_control list is invalid). */
  readonly grants: readonly PrincipalGrant[];
}

/**
 * The complete access control list of one workspace object. Authoritative: grants made outside Terraform
 * are removed on the next apply (admins keep theirs).
 */
export class ObjectPermissions extends Construct {
  readonly resource: Permissions;

  constructor(scope: Construct, id: string, props: ObjectPermissionsProps) {
    super(scope, id);
    const named = Object.entries(props.object).filter(([, v]) => v !== undefined);
    if (named.length !== 1)
      throw new Error(`${this.node.path}: expected exactly one object field, found ${JSON.stringify(props.object)}`);
    if (props.grants.length === 0)
      throw new Error(`${this.node.path}: expected at least one grant, found none; leave the construct out instead`);
    this.resource = new Permissions(this, "Resource", {
      ...props.object,
      accessControl: props.grants.map(accessControl),
    });
  }
}

/** user → user_name, group → group_name, servicePrincipal (application id) → service_principal_name. */
export function accessControl(grant: PrincipalGrant): PermissionsAccessControl {
  return {
    userName: grant.user,
    groupName: grant.group,
    servicePrincipalName: grant.servicePrincipal,
    permissionLevel: grant.level,
  };
}
