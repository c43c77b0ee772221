// CPU and memory as the API server counts them: a container's requests and limits in millicores
// and bytes, and a pod's totals the way the ResourceQuota admission adds them up
// (k8s.io/component-helpers resource.PodRequests / PodLimits): app containers and native sidecars
// add up, a regular init container counts alone with the sidecars started before it (the larger
// of the two wins), pod-level resources replace the sum, and the pod's overhead comes on top.
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { formatCpu, formatMemory, parseCpu, parseMemory } from './quantity.ts';
import type { Result } from './result.ts';

export const RESOURCES = ['cpu', 'memory'] as const;
export type ResourceName = (typeof RESOURCES)[number];

/** Millicores of CPU, bytes of memory; a resource that is absent is not set. */
export type Amounts = Partial<Record<ResourceName, number>>;

export interface ContainerAmounts {
  requests: Amounts;
  limits: Amounts;
}

export const PARSE: Readonly<Record<ResourceName, (text: string) => Result<number>>> = { cpu: parseCpu, memory: parseMemory };
export const FORMAT: Readonly<Record<ResourceName, (amount: number) => string>> = { cpu: formatCpu, memory: formatMemory };

/** A resource list (`{cpu: '250m', memory: '64Mi'}`) of the amounts that are set. */
export function formatAmounts(amounts: Amounts): Record<string, string> {
  return Object.fromEntries(RESOURCES.filter((r) => amounts[r] !== undefined).map((r) => [r, FORMAT[r](amounts[r]!)]));
}

/** The CPU and memory of a resource list (the API server has validated the quantities). */
export function amountsOf(list: Readonly<Record<string, string>> | undefined): Amounts {
  const amounts: Amounts = {};
  for (const resource of RESOURCES) {
    const quantity = list?.[resource];
    if (quantity === undefined) continue;
    const parsed = PARSE[resource](String(quantity));
    if (parsed.ok) amounts[resource] = parsed.value;
  }
  return amounts;
}

export function containerAmounts(container: V1Container): ContainerAmounts {
  return { requests: amountsOf(container.resources?.requests), limits: amountsOf(container.resources?.limits) };
}

/** A native sidecar: an init container that keeps running beside the app. */
export const isSidecar = (container: V1Container) => container.restartPolicy === 'Always';

export interface PodContainers {
  containers: readonly ContainerAmounts[];
  /** In order; `sidecar` for the restartable ones. */
  initContainers: readonly (ContainerAmounts & { sidecar: boolean })[];
  overhead: Amounts;
  /** `spec.resources`: the pod's own requests and limits, which take the place of the sums. */
  podLevel?: ContainerAmounts;
}

/** What ebb is about to change: requests and limits set per app container (by index), a sidecar appended. */
export interface PodChanges {
  requests?: readonly Amounts[];
  limits?: readonly Amounts[];
  sidecar?: ContainerAmounts;
}

/** The pod's containers as amounts (every quantity parsed once, here). */
export function podContainers(spec: V1PodSpec | undefined): PodContainers {
  return {
    containers: (spec?.containers ?? []).map(containerAmounts),
    initContainers: (spec?.initContainers ?? []).map((container) => ({ ...containerAmounts(container), sidecar: isSidecar(container) })),
    overhead: amountsOf(spec?.overhead),
    ...(spec?.resources ? { podLevel: { requests: amountsOf(spec.resources.requests), limits: amountsOf(spec.resources.limits) } } : {}),
  };
}

/** The pod with ebb's changes applied. */
export function withChanges(pod: PodContainers, changes: PodChanges): PodContainers {
  return {
    ...pod,
    containers: pod.containers.map(({ requests, limits }, index) => ({
      requests: { ...requests, ...changes.requests?.[index] },
      limits: { ...limits, ...changes.limits?.[index] },
    })),
    initContainers: changes.sidecar ? [...pod.initContainers, { ...changes.sidecar, sidecar: true }] : pod.initContainers,
  };
}

const sum = (a: Amounts, b: Amounts): Amounts =>
  Object.fromEntries(RESOURCES.filter((r) => a[r] !== undefined || b[r] !== undefined).map((r) => [r, (a[r] ?? 0) + (b[r] ?? 0)]));

const larger = (a: Amounts, b: Amounts): Amounts =>
  Object.fromEntries(RESOURCES.filter((r) => a[r] !== undefined || b[r] !== undefined).map((r) => [r, Math.max(a[r] ?? 0, b[r] ?? 0)]));

function podTotal(pod: PodContainers, side: keyof ContainerAmounts): Amounts {
  let running = pod.containers.reduce<Amounts>((total, container) => sum(total, container[side]), {});
  let sidecars: Amounts = {};
  let initPeak: Amounts = {};
  for (const init of pod.initContainers) {
    if (init.sidecar) {
      running = sum(running, init[side]);
      sidecars = sum(sidecars, init[side]);
      initPeak = larger(initPeak, sidecars);
    } else {
      initPeak = larger(initPeak, sum(init[side], sidecars));
    }
  }
  const total = { ...larger(running, initPeak), ...pod.podLevel?.[side] };
  // Overhead is added to every request, and to a limit only where there is one.
  const overhead = side === 'requests' ? pod.overhead : Object.fromEntries(Object.entries(pod.overhead).filter(([r]) => (total[r as ResourceName] ?? 0) > 0));
  return sum(total, overhead);
}

/** The pod's requests and limits as a ResourceQuota counts them. */
export function podAmounts(pod: PodContainers): ContainerAmounts {
  return { requests: podTotal(pod, 'requests'), limits: podTotal(pod, 'limits') };
}
