/** The review of two synthesized trees: one section per environment present in either. */
import { type RecordedSuppression, SUPPRESSIONS_KEY } from "../../stacks/guardrails/nag-rule";
import { STATEFUL_RESOURCE_TYPES } from "../../stacks/stateful-resources";
import { bindingGraph } from "./binding-graph";
import { type Action, ACTIONS, instances, offlinePlan, repoRelativeToStack, type ResourceChange } from "./offline-plan";
import { postApplyWork, type PostApplyWork } from "./post-apply-work";
import type { SynthesizedTree } from "./trees";

export interface EnvironmentReport {
  readonly environment: string;
  readonly counts: Readonly<Record<Action, number>>;
  /** Stateful resources (data, credentials, the app) destroyed or replaced: the banner. */
  readonly stateful: readonly ResourceChange[];
  readonly changes: readonly ResourceChange[];
  readonly postApply: PostApplyWork;
  /** Mermaid source of the environment's resources and bindings. */
  readonly graph: string;
  /** Guardrail findings the head tree accepts, with their reasons (e.g. production state kept local). */
  readonly suppressions: readonly RecordedSuppression[];
}

export interface Report {
  readonly base: string;
  readonly head: string;
  readonly environments: readonly EnvironmentReport[];
  /** Any environment has a resource change. */
  readonly changed: boolean;
}

export function review(base: SynthesizedTree, head: SynthesizedTree, names: { base: string; head: string }): Report {
  const environments = [...new Set([...base.stacks.keys(), ...head.stacks.keys()])].sort().map((environment) => {
    const side = (tree: SynthesizedTree) => ({
      root: tree.root,
      instances: instances(tree.stacks.get(environment), repoRelativeToStack(tree.outDir, environment, tree.root)),
    });
    const [before, after] = [side(base), side(head)];
    const changes = offlinePlan(before.instances, after.instances);
    const counts = Object.fromEntries(
      ACTIONS.map((action) => [action, changes.filter((c) => c.action === action).length]),
    ) as Record<Action, number>;
    const shown = after.instances.size ? after.instances : before.instances;
    return {
      environment,
      counts,
      stateful: changes.filter(
        (c) => STATEFUL_RESOURCE_TYPES.has(c.type) && (c.action === "destroy" || c.action === "replace"),
      ),
      changes,
      postApply: postApplyWork(before, after, changes),
      graph: bindingGraph(shown, new Map(changes.map((c) => [c.address, c.action]))),
      suppressions: head.stacks.get(environment)?.["//"]?.[SUPPRESSIONS_KEY] ?? [],
    };
  });
  return { ...names, environments, changed: environments.some((e) => e.changes.length > 0) };
}
