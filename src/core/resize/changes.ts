// What one container's requests and limits should become under the recommendation, resource by
// resource. A request changes when it is outside the recommendation's [lower, upper] or differs
// from the target by more than the policy's tolerance; a raise-only recommendation (too little
// history to trust a decrease) only raises. Limits follow (KEP-1287 lets a resize change but never
// remove them): ebb never adds one; a CPU limit keeps its ratio to the request (so it stays above
// it); a memory limit is never left below the upper bound, what the container may well use, since
// a limit under it is an OOM kill waiting to happen. In a Guaranteed pod the request is the limit,
// so both move together and memory is sized to the upper bound. Pure.
import { FORMAT, RESOURCES, type ResourceName } from '../pod-resources.ts';
import type { SlimContainer } from './slim-pod.ts';
import type { ContainerTargets, ResourceTarget } from './targets.ts';

export interface Change {
  /** Undefined: there is none (a request is added). */
  from?: number;
  to: number;
}

export interface ResourceChange {
  container: string;
  resource: ResourceName;
  request?: Change;
  limit?: Change;
  /** Why, in words: `below the lower bound 350m`. */
  why: string;
}

export interface ChangeRules {
  qos: 'Guaranteed' | 'Burstable';
  tolerance: number;
  /** Resources ebb leaves alone: an HPA scales the workload on their utilization, which is relative to the requests. */
  held: ReadonlySet<ResourceName>;
  /** Whether the API server lets a resize lower a memory limit (Kubernetes ≥ 1.34). */
  memoryLimitDecrease: boolean;
}

/** `wanted`: the amount the request should have, and what it is (the target, or the upper bound). */
function reasonToChange(
  request: number | undefined,
  wanted: { amount: number; name: string },
  bounds: ResourceTarget,
  tolerance: number,
  format: (n: number) => string,
): string | undefined {
  if (request === undefined) return 'no request';
  if (request < bounds.lower) return `below the lower bound ${format(bounds.lower)}`;
  if (request > bounds.upper) return `above the upper bound ${format(bounds.upper)}`;
  const off = Math.abs(wanted.amount - request) / Math.max(request, 1);
  return off > tolerance ? `${Math.round(off * 100)} % off the ${wanted.name} ${format(wanted.amount)}` : undefined;
}

function newLimit(resource: ResourceName, container: SlimContainer, to: number, bounds: ResourceTarget, rules: ChangeRules): Change | undefined {
  const limit = container.limits[resource];
  if (limit === undefined) return undefined;
  if (rules.qos === 'Guaranteed') return limit === to ? undefined : { from: limit, to };
  const request = container.requests[resource];
  const scaled = request ? Math.ceil((limit * to) / request) : limit;
  let next = Math.max(scaled, resource === 'memory' ? Math.max(to, bounds.upper) : to);
  if (resource === 'memory' && !rules.memoryLimitDecrease) next = Math.max(next, limit);
  return next === limit ? undefined : { from: limit, to: next };
}

function resourceChange(container: SlimContainer, resource: ResourceName, targets: ContainerTargets, rules: ChangeRules): ResourceChange | undefined {
  const bounds = targets.resources[resource];
  const format = FORMAT[resource];
  const request = container.requests[resource];
  const guaranteedMemory = rules.qos === 'Guaranteed' && resource === 'memory';
  const wanted = guaranteedMemory ? bounds.upper : bounds.target;
  const why = reasonToChange(request, { amount: wanted, name: guaranteedMemory ? 'upper bound' : 'target' }, bounds, rules.tolerance, format);
  const lowering = request !== undefined && wanted < request;
  if (why !== undefined && !(lowering && targets.raiseOnly)) {
    const limit = newLimit(resource, container, wanted, bounds, rules);
    return {
      container: container.name,
      resource,
      request: { ...(request !== undefined ? { from: request } : {}), to: wanted },
      ...(limit ? { limit } : {}),
      why,
    };
  }
  const memoryLimit = container.limits.memory;
  if (resource === 'memory' && rules.qos === 'Burstable' && memoryLimit !== undefined && memoryLimit < bounds.upper) {
    return {
      container: container.name,
      resource,
      limit: { from: memoryLimit, to: bounds.upper },
      why: `memory limit below the upper bound ${format(bounds.upper)}`,
    };
  }
  return undefined;
}

/** The container's changes, CPU first; empty when it is sized well enough. */
export function containerChanges(container: SlimContainer, targets: ContainerTargets, rules: ChangeRules): ResourceChange[] {
  return RESOURCES.filter((resource) => !rules.held.has(resource))
    .map((resource) => resourceChange(container, resource, targets, rules))
    .filter((change) => change !== undefined);
}

/** `app: cpu request 100m → 450m (below the lower bound 350m)`, one part per change. */
export function describeChanges(changes: readonly ResourceChange[]): string {
  return changes
    .map(({ container, resource, request, limit, why }) => {
      const format = FORMAT[resource];
      const move = (name: string, change: Change) => `${name} ${change.from === undefined ? 'none' : format(change.from)} → ${format(change.to)}`;
      const moves = [request && move('request', request), limit && move('limit', limit)].filter(Boolean).join(', ');
      return `${container}: ${resource} ${moves} (${why})`;
    })
    .join('; ');
}
