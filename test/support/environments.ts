/**
 * The environments a test may speak of without hard-coding them: the ones environments/ ships (whatever
 * STACK_ENVIRONMENTS_DIR says), and a name that is not one of them, for a test that adds an environment or
 * names an unknown one. Adding `environments/<env>.yaml` must not break a test that means "all of them".
 */
import { environmentNames, environmentsDir } from "../../stacks/config/load-environments";

/** Every shipped environment, sorted (as the loader lists them in its messages). */
export const SHIPPED_ENVIRONMENTS: readonly string[] = environmentNames(environmentsDir({}));

/** A valid environment name that environments/ does not ship. */
export const UNSHIPPED_ENVIRONMENT = "scratch";
if (SHIPPED_ENVIRONMENTS.includes(UNSHIPPED_ENVIRONMENT))
  throw new Error(
    `environments/${UNSHIPPED_ENVIRONMENT}.yaml exists: give the tests' unshipped environment another name`,
  );
