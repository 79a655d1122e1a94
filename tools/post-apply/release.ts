/**
 * The release phase: the app runs the code of this commit. After migrations and grants (so new code finds
 * its schema), it syncs the source into the app's workspace directory, starts the app's compute when it is
 * stopped, creates a SNAPSHOT deployment of that directory, and waits until the deployment SUCCEEDED and the app is RUNNING with that deployment
 * active. A deployment already in progress is waited for first (and a refused create retried once after
 * it). Every wait shares one deadline; a failed deployment fails the release with the platform's message.
 */
import type { ReleaseStepInputs } from "../lib/post-apply-inputs";
import { syncSource } from "./source-sync";
import { type Report, StepError } from "../lib/step-error";
import type { AppDeployment, AppInfo, Workspace } from "../lib/workspace";

/** Polling starts fast (a local emulator answers in milliseconds) and backs off to this. */
const MAX_POLL_MS = 5_000;

export async function release(inputs: ReleaseStepInputs, workspace: Workspace, report: Report): Promise<AppDeployment> {
  const { app, releaseTimeoutSeconds: timeoutSeconds } = inputs;
  const sourceCodePath = `/Workspace${inputs.workspacePath}`;
  const deadline = Date.now() + timeoutSeconds * 1000;
  const waitFor = <T>(
    what: string,
    read: () => Promise<T>,
    done: (value: T) => boolean,
    describe: (value: T) => string,
  ) => poll(deadline, timeoutSeconds, what, read, done, describe, (state) => report("release", `${what}: ${state}`));

  await syncSource(inputs, workspace, report);
  let info = await workspace.readApp(app);
  const compute = info.compute_status?.state;
  if (compute === "STOPPED" || compute === "ERROR") {
    report("release", `compute of app "${app}" is ${compute}; starting it`);
    await workspace.startApp(app);
  }
  if (compute !== "ACTIVE") {
    info = await waitFor(
      `compute of app "${app}"`,
      () => workspace.readApp(app),
      computeSettled,
      (a) => a.compute_status?.state ?? "UNKNOWN",
    );
    if (info.compute_status?.state !== "ACTIVE") {
      throw new StepError(
        "release",
        `the compute of app "${app}" is ${info.compute_status?.state}: ${info.compute_status?.message ?? "no message"}`,
      );
    }
  }

  await finishPending(info);
  let deployment: AppDeployment;
  try {
    deployment = await workspace.createDeployment(app, sourceCodePath);
  } catch (error) {
    // Someone else's deployment may have started meanwhile: wait for it, then try once more.
    if (!(await finishPending(await workspace.readApp(app)))) throw error;
    deployment = await workspace.createDeployment(app, sourceCodePath);
  }
  const id = deployment.deployment_id;
  if (!id) throw new StepError("release", `the Apps API started a deployment of app "${app}" without a deployment_id`);
  report("release", `deployment ${id} of ${sourceCodePath} started`);

  deployment = await waitFor(
    `deployment ${id}`,
    () => workspace.readDeployment(app, id),
    (d) => d.status?.state !== "IN_PROGRESS",
    (d) => d.status?.state ?? "UNKNOWN",
  );
  if (deployment.status?.state !== "SUCCEEDED") {
    throw new StepError(
      "release",
      `deployment ${id} of app "${app}" ${deployment.status?.state}: ${deployment.status?.message ?? "no message from the platform"}`,
    );
  }
  info = await waitFor(
    `app "${app}"`,
    () => workspace.readApp(app),
    (a) => a.app_status?.state !== "DEPLOYING" && a.active_deployment?.deployment_id === id,
    (a) => a.app_status?.state ?? "UNKNOWN",
  );
  if (info.app_status?.state !== "RUNNING") {
    throw new StepError(
      "release",
      `app "${app}" is ${info.app_status?.state} after deployment ${id}: ${info.app_status?.message ?? "no message"}`,
    );
  }
  report("release", `app "${app}" is RUNNING deployment ${id}`);
  return deployment;

  /** Waits for a deployment in progress to end; returns whether there was one. */
  async function finishPending(current: AppInfo): Promise<boolean> {
    const pending = current.pending_deployment;
    const pendingId = pending?.deployment_id;
    if (pending?.status?.state !== "IN_PROGRESS" || !pendingId) return false;
    report("release", `deployment ${pendingId} is in progress; waiting for it first`);
    await waitFor(
      `deployment ${pendingId}`,
      () => workspace.readDeployment(app, pendingId),
      (d) => d.status?.state !== "IN_PROGRESS",
      (d) => d.status?.state ?? "UNKNOWN",
    );
    return true;
  }
}

/** ACTIVE, or an ERROR that waiting will not fix (STOPPED right after a start request is still on its way). */
const computeSettled = (a: AppInfo) => a.compute_status?.state === "ACTIVE" || a.compute_status?.state === "ERROR";

/** Reads until `done`, reporting each new state, or fails at the deadline naming what it waited for. */
async function poll<T>(
  deadline: number,
  timeoutSeconds: number,
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  describe: (value: T) => string,
  onState: (state: string) => void,
): Promise<T> {
  let interval = 100;
  let last: string | undefined;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    const state = describe(value);
    if (state !== last) onState(state);
    last = state;
    const remaining = deadline - Date.now();
    if (remaining <= 0)
      throw new StepError(
        "release",
        `${what} is still ${state} after ${timeoutSeconds} s (postApply.releaseTimeoutSeconds)`,
      );
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, remaining)));
    interval = Math.min(interval * 2, MAX_POLL_MS);
  }
}
