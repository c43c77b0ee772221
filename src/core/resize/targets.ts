// The recommendation as the resizer acts on it: per container and resource the target and its
// bounds in millicores and bytes, read from the form the status carries (so running pods are sized
// by exactly what `ebb.dev/status` says and the webhook applies to new ones). Pure.
import { PARSE, RESOURCES, type ResourceName } from '../pod-resources.ts';
import type { StatusRecommendation } from '../recommendation.ts';

export interface ResourceTarget {
  target: number;
  lower: number;
  upper: number;
}

export interface ContainerTargets {
  resources: Readonly<Record<ResourceName, ResourceTarget>>;
  /** Too little history to trust a decrease: only raise. */
  raiseOnly: boolean;
}

/** By container name; a container whose figures cannot be read is left out (and so left alone). */
export function targetsFrom(status: StatusRecommendation): Map<string, ContainerTargets> {
  const targets = new Map<string, ContainerTargets>();
  for (const [name, container] of Object.entries(status.containers)) {
    const resources: Partial<Record<ResourceName, ResourceTarget>> = {};
    for (const resource of RESOURCES) {
      const [target, lower, upper] = [container[resource], container.lower[resource], container.upper[resource]].map((text) => PARSE[resource](text));
      if (target?.ok && lower?.ok && upper?.ok) resources[resource] = { target: target.value, lower: lower.value, upper: upper.value };
    }
    if (resources.cpu && resources.memory)
      targets.set(name, { resources: { cpu: resources.cpu, memory: resources.memory }, raiseOnly: container.raiseOnly === true });
  }
  return targets;
}
