// Resource requests for the pod's app containers. A container without a request gets one: the
// recommendation when there is one, else the policy's default. A request the user wrote is
// replaced only when the workload's resize mode allows ebb to size it and a recommendation exists,
// and never for a resource whose request equals its limit (Guaranteed QoS is a deliberate choice).
// Every request is kept within the workload's cpu/memory bounds, then the namespace's LimitRanges,
// and never above the limit.
import type { V1Container } from '@kubernetes/client-node';
import { formatCpu, formatMemory, parseCpu, parseMemory } from '../quantity.ts';
import type { ContainerRequests } from '../recommendation.ts';
import type { Result } from '../result.ts';
import type { ResolvedSettings } from '../setting-schema.ts';
import { add, pointer, type AddOperation } from './json-patch.ts';
import { UNBOUNDED, within, type Bounds, type ContainerBounds } from './limit-range.ts';

export interface RequestsPlan {
  settings: ResolvedSettings;
  defaults: Required<ContainerRequests>;
  /** Recommended requests by container name. */
  recommendation?: Readonly<Record<string, ContainerRequests>>;
  /** What the namespace's LimitRanges allow a container (default: anything). */
  bounds?: ContainerBounds;
}

interface Resource {
  name: 'cpu' | 'memory';
  field: keyof ContainerRequests;
  parse(text: string): Result<number>;
  format(amount: number): string;
  bounds(settings: ResolvedSettings): Bounds;
  limitRange(bounds: ContainerBounds): Bounds;
}

const RESOURCES: readonly Resource[] = [
  { name: 'cpu', field: 'cpuMillis', parse: parseCpu, format: formatCpu, bounds: (s) => ({ min: s['cpu-min'], max: s['cpu-max'] }), limitRange: (b) => b.cpu },
  { name: 'memory', field: 'memoryBytes', parse: parseMemory, format: formatMemory, bounds: (s) => ({ min: s['memory-min'], max: s['memory-max'] }), limitRange: (b) => b.memory },
];

/** The amount of a quantity the user wrote (the API server has validated it), undefined if absent. */
function amount(resource: Resource, quantity: string | number | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const parsed = resource.parse(String(quantity));
  return parsed.ok ? parsed.value : undefined;
}

/** The request ebb sets for one resource of one container, or undefined to leave it alone. */
function plannedRequest(resource: Resource, container: V1Container, plan: RequestsPlan): number | undefined {
  const current = amount(resource, container.resources?.requests?.[resource.name]);
  const limit = amount(resource, container.resources?.limits?.[resource.name]);
  const recommended = plan.recommendation?.[container.name]?.[resource.field];
  if (current !== undefined && (recommended === undefined || plan.settings.resize === 'off' || current === limit)) return undefined;
  const { min, max } = resource.bounds(plan.settings);
  let target = recommended ?? plan.defaults[resource.field];
  if (min !== undefined) target = Math.max(target, min);
  if (max !== undefined) target = Math.min(target, max);
  target = within(resource.limitRange(plan.bounds ?? UNBOUNDED), target);
  if (limit !== undefined) target = Math.min(target, limit);
  return target === current ? undefined : target;
}

export function addRequests(containers: readonly V1Container[], plan: RequestsPlan): AddOperation[] {
  const operations: AddOperation[] = [];
  containers.forEach((container, index) => {
    const requests: Record<string, string> = {};
    for (const resource of RESOURCES) {
      const request = plannedRequest(resource, container, plan);
      if (request !== undefined) requests[resource.name] = resource.format(request);
    }
    if (Object.keys(requests).length === 0) return;
    const at = ['spec', 'containers', index, 'resources'] as const;
    if (!container.resources) operations.push(add(pointer(...at), { requests }));
    else if (!container.resources.requests) operations.push(add(pointer(...at, 'requests'), requests));
    else for (const [name, value] of Object.entries(requests)) operations.push(add(pointer(...at, 'requests', name), value));
  });
  return operations;
}
