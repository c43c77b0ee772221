// Resource requests for the pod's app containers. A container without a request gets one: the
// recommendation when there is one, else the policy's default. A request the user wrote is
// replaced only when the workload's resize mode allows ebb to size it and a recommendation exists,
// and never for a resource whose request equals its limit (Guaranteed QoS is a deliberate choice);
// while the recommendation is raise-only (too little history to trust a decrease) a lower target
// leaves the user's request alone. Every request is kept within the workload's cpu/memory bounds,
// then the namespace's LimitRanges, and never above the limit. Limits: ebb never adds one; a
// memory limit below the recommendation's upper bound is raised to it (within the LimitRange's
// max), since a limit under what the container is expected to use is an OOM kill waiting to
// happen; a CPU limit caps the request. The pod keeps its QoS class: only a Burstable pod gets
// requests.
import type { V1Container } from '@kubernetes/client-node';
import { formatAmounts, RESOURCES, withChanges, type Amounts, type ContainerAmounts, type PodContainers, type ResourceName } from '../pod-resources.ts';
import { qosOf, type QosClass } from '../qos.ts';
import type { ContainerRequests } from '../recommendation.ts';
import type { ResolvedSettings } from '../setting-schema.ts';
import { add, pointer, type AddOperation } from './json-patch.ts';
import { within, type Bounds, type ContainerBounds } from './limit-range.ts';

export interface RequestsPlan {
  settings: ResolvedSettings;
  defaults: { cpuMillis: number; memoryBytes: number };
  /** Recommended requests by container name. */
  recommendation?: Readonly<Record<string, ContainerRequests>>;
  /** What the namespace's LimitRanges allow a container. */
  bounds: ContainerBounds;
  /** The pod's resources and QoS class as it arrived. */
  pod: PodContainers;
  qos: QosClass;
}

const FIELD: Readonly<Record<ResourceName, 'cpuMillis' | 'memoryBytes'>> = { cpu: 'cpuMillis', memory: 'memoryBytes' };

const settingBounds = (settings: ResolvedSettings, resource: ResourceName): Bounds =>
  resource === 'cpu' ? { min: settings['cpu-min'], max: settings['cpu-max'] } : { min: settings['memory-min'], max: settings['memory-max'] };

/** The requests and limits ebb sets in the app containers, by index; empty objects leave a container alone. */
export interface AppResources {
  requests: Amounts[];
  limits: Amounts[];
}

/** A memory limit raised to the recommendation's upper bound, or undefined to leave it alone. */
function raisedMemoryLimit(container: V1Container, amounts: ContainerAmounts, plan: RequestsPlan): number | undefined {
  const limit = amounts.limits.memory;
  const upper = plan.recommendation?.[container.name]?.memoryUpperBytes;
  if (limit === undefined || upper === undefined || plan.settings.resize === 'off' || amounts.requests.memory === limit) return undefined;
  const raised = within(plan.bounds.memory, upper);
  return raised > limit ? raised : undefined;
}

/** The request ebb sets for one resource of one container, or undefined to leave it alone. */
function plannedRequest(
  resource: ResourceName,
  container: V1Container,
  amounts: ContainerAmounts,
  limit: number | undefined,
  plan: RequestsPlan,
): number | undefined {
  const current = amounts.requests[resource];
  const recommendation = plan.recommendation?.[container.name];
  const recommended = recommendation?.[FIELD[resource]];
  if (current !== undefined && (recommended === undefined || plan.settings.resize === 'off' || current === amounts.limits[resource])) return undefined;
  const { min, max } = settingBounds(plan.settings, resource);
  let target = recommended ?? plan.defaults[FIELD[resource]];
  if (min !== undefined) target = Math.max(target, min);
  if (max !== undefined) target = Math.min(target, max);
  target = within(plan.bounds[resource], target);
  if (limit !== undefined) target = Math.min(target, limit);
  if (current !== undefined && recommendation?.raiseOnly && target < current) return undefined;
  return target === current ? undefined : target;
}

/** The requests (and raised memory limits) ebb sets, per app container. */
export function planRequests(containers: readonly V1Container[], plan: RequestsPlan): AppResources {
  // A Guaranteed pod's requests all equal their limits, which ebb never moves; any request would
  // make a BestEffort pod Burstable.
  if (plan.qos !== 'Burstable') return { requests: containers.map(() => ({})), limits: containers.map(() => ({})) };
  const amounts = plan.pod.containers;
  const limits = containers.map((container, index): Amounts => {
    const memory = raisedMemoryLimit(container, amounts[index]!, plan);
    return memory === undefined ? {} : { memory };
  });
  const planned = containers.map((container, index) => {
    const requests: Amounts = {};
    for (const resource of RESOURCES) {
      const limit = limits[index]![resource] ?? amounts[index]!.limits[resource];
      const request = plannedRequest(resource, container, amounts[index]!, limit, plan);
      if (request !== undefined) requests[resource] = request;
    }
    return requests;
  });
  if (qosOf(withChanges(plan.pod, { requests: planned, limits })) === 'Burstable') return { requests: planned, limits };
  // Every request would now equal its limit, which makes the pod Guaranteed: where ebb's request
  // reaches the limit, the user's stays.
  const requests = planned.map((requests, index) => {
    const kept: Amounts = {};
    for (const resource of RESOURCES) {
      const request = requests[resource];
      const limit = limits[index]![resource] ?? amounts[index]!.limits[resource];
      if (request !== undefined && request !== limit) kept[resource] = request;
    }
    return kept;
  });
  return { requests, limits };
}

export function addResources(containers: readonly V1Container[], planned: AppResources): AddOperation[] {
  const operations: AddOperation[] = [];
  containers.forEach((container, index) => {
    const wanted = { requests: formatAmounts(planned.requests[index] ?? {}), limits: formatAmounts(planned.limits[index] ?? {}) };
    const at = ['spec', 'containers', index, 'resources'] as const;
    const present = Object.entries(wanted).filter(([, values]) => Object.keys(values).length > 0) as ['requests' | 'limits', Record<string, string>][];
    if (present.length === 0) return;
    if (!container.resources) return void operations.push(add(pointer(...at), Object.fromEntries(present)));
    for (const [side, values] of present) {
      if (!container.resources[side]) operations.push(add(pointer(...at, side), values));
      else for (const [name, value] of Object.entries(values)) operations.push(add(pointer(...at, side, name), value));
    }
  });
  return operations;
}
