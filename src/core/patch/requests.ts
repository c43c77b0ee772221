// Resource requests for the pod's app containers. A container without a request gets one: the
// recommendation when there is one, else the policy's default. A request the user wrote is
// replaced only when the workload's resize mode allows ebb to size it and a recommendation exists,
// and never for a resource whose request equals its limit (Guaranteed QoS is a deliberate choice).
// Every request is kept within the workload's cpu/memory bounds, then the namespace's LimitRanges,
// and never above the limit. The pod keeps its QoS class: only a Burstable pod gets requests.
import type { V1Container } from '@kubernetes/client-node';
import { formatAmounts, RESOURCES, withChanges, type Amounts, type ContainerAmounts, type PodContainers, type ResourceName } from '../pod-resources.ts';
import { qosOf, type QosClass } from '../qos.ts';
import type { ContainerRequests } from '../recommendation.ts';
import type { ResolvedSettings } from '../setting-schema.ts';
import { add, pointer, type AddOperation } from './json-patch.ts';
import { within, type Bounds, type ContainerBounds } from './limit-range.ts';

export interface RequestsPlan {
  settings: ResolvedSettings;
  defaults: Required<ContainerRequests>;
  /** Recommended requests by container name. */
  recommendation?: Readonly<Record<string, ContainerRequests>>;
  /** What the namespace's LimitRanges allow a container. */
  bounds: ContainerBounds;
  /** The pod's resources and QoS class as it arrived. */
  pod: PodContainers;
  qos: QosClass;
}

const FIELD: Readonly<Record<ResourceName, keyof ContainerRequests>> = { cpu: 'cpuMillis', memory: 'memoryBytes' };

const settingBounds = (settings: ResolvedSettings, resource: ResourceName): Bounds =>
  resource === 'cpu' ? { min: settings['cpu-min'], max: settings['cpu-max'] } : { min: settings['memory-min'], max: settings['memory-max'] };

/** The request ebb sets for one resource of one container, or undefined to leave it alone. */
function plannedRequest(resource: ResourceName, container: V1Container, amounts: ContainerAmounts, plan: RequestsPlan): number | undefined {
  const current = amounts.requests[resource];
  const limit = amounts.limits[resource];
  const recommended = plan.recommendation?.[container.name]?.[FIELD[resource]];
  if (current !== undefined && (recommended === undefined || plan.settings.resize === 'off' || current === limit)) return undefined;
  const { min, max } = settingBounds(plan.settings, resource);
  let target = recommended ?? plan.defaults[FIELD[resource]];
  if (min !== undefined) target = Math.max(target, min);
  if (max !== undefined) target = Math.min(target, max);
  target = within(plan.bounds[resource], target);
  if (limit !== undefined) target = Math.min(target, limit);
  return target === current ? undefined : target;
}

/** The requests ebb sets, per app container (by index); an empty object leaves a container alone. */
export function planRequests(containers: readonly V1Container[], plan: RequestsPlan): Amounts[] {
  // A Guaranteed pod's requests all equal their limits, which ebb never moves; any request would
  // make a BestEffort pod Burstable.
  if (plan.qos !== 'Burstable') return containers.map(() => ({}));
  const amounts = plan.pod.containers;
  const planned = containers.map((container, index) => {
    const requests: Amounts = {};
    for (const resource of RESOURCES) {
      const request = plannedRequest(resource, container, amounts[index]!, plan);
      if (request !== undefined) requests[resource] = request;
    }
    return requests;
  });
  if (qosOf(withChanges(plan.pod, { requests: planned })) === 'Burstable') return planned;
  // Every request would now equal its limit, which makes the pod Guaranteed: where ebb's request
  // reaches the limit, the user's stays.
  return planned.map((requests, index) => {
    const { limits } = amounts[index]!;
    const kept: Amounts = {};
    for (const resource of RESOURCES) {
      const request = requests[resource];
      if (request !== undefined && request !== limits[resource]) kept[resource] = request;
    }
    return kept;
  });
}

export function addRequests(containers: readonly V1Container[], planned: readonly Amounts[]): AddOperation[] {
  const operations: AddOperation[] = [];
  containers.forEach((container, index) => {
    const requests = formatAmounts(planned[index] ?? {});
    if (Object.keys(requests).length === 0) return;
    const at = ['spec', 'containers', index, 'resources'] as const;
    if (!container.resources) operations.push(add(pointer(...at), { requests }));
    else if (!container.resources.requests) operations.push(add(pointer(...at, 'requests'), requests));
    else for (const [name, value] of Object.entries(requests)) operations.push(add(pointer(...at, 'requests', name), value));
  });
  return operations;
}
