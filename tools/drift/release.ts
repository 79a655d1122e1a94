/**
 * The release, as the platform reports it: the app exists, is RUNNING, and its active deployment was taken
 * from the directory this commit uploads the code to. Terraform sees none of this (the app resource never
 * deploys code; its status and deployments are read-only attributes that change by design).
 */
import type { AppInfo } from "../lib/workspace";
import type { Finding } from "./findings";

/** `/Workspace/x` and `/x` name the same workspace object. */
const workspacePath = (path: string) => path.replace(/^\/Workspace(?=\/)/, "");

export function releaseFindings(
  environment: string,
  name: string,
  app: AppInfo | undefined,
  sourceCodePath: string,
): Finding[] {
  const object = `app "${name}"`;
  const redeploy = `databricks apps deploy ${name} --source-code-path ${sourceCodePath}`;
  const finding = (f: Pick<Finding, "object" | "expected" | "found" | "severity" | "remediation">): Finding => ({
    check: "release",
    class: "out-of-band",
    ...f,
  });
  if (!app) {
    return [
      finding({
        object,
        expected: "exists",
        found: "not found (HTTP 404)",
        severity: "high",
        remediation: `npx cdktf deploy ${environment} creates it again (with a new service principal)`,
      }),
    ];
  }
  const findings: Finding[] = [];
  const state = app.app_status?.state ?? "UNKNOWN";
  const compute = app.compute_status?.state ?? "UNKNOWN";
  if (state !== "RUNNING" || compute !== "ACTIVE") {
    findings.push(
      finding({
        object,
        expected: "RUNNING on ACTIVE compute",
        found: `${state} (${app.app_status?.message ?? "no message"}) on ${compute} compute (${app.compute_status?.message ?? "no message"})`,
        severity: "high",
        remediation: `start it (databricks apps start ${name}) and deploy its code again (${redeploy})`,
      }),
    );
  }
  const active = app.active_deployment;
  if (!active?.source_code_path) {
    findings.push(
      finding({
        object: `${object} active deployment`,
        expected: `a deployment of ${sourceCodePath}`,
        found: "none: the app runs no code",
        severity: "high",
        remediation: redeploy,
      }),
    );
  } else if (workspacePath(active.source_code_path) !== workspacePath(sourceCodePath)) {
    findings.push(
      finding({
        object: `${object} active deployment`,
        expected: `a deployment of ${sourceCodePath}`,
        found: `deployment ${active.deployment_id ?? "?"} of ${active.source_code_path}${active.create_time ? ` (${active.create_time})` : ""}`,
        severity: "high",
        remediation: `${redeploy} (the deploy's release step does this when the code changes)`,
      }),
    );
  }
  return findings;
}
