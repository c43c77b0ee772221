// What the controller keeps of a pod: what the in-place resizer plans from and what the repair of
// pods that missed the webhook needs, a few hundred bytes instead of the whole object (the
// controller bench runs 10,000 pods; full pods in an informer would cost the controller's memory
// budget several times over). Quantities are parsed once, here. Pure.
import type { V1Container, V1ContainerStatus, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION } from '../annotations.ts';
import { amountsOf, RESOURCES, type Amounts, type ContainerAmounts, type ResourceName } from '../pod-resources.ts';
import type { QosClass } from '../qos.ts';
import { injectionVersion } from '../usage/injected-workload.ts';
import type { WorkloadKey } from '../../protocol/workload.ts';

export const RESIZE_PENDING = 'PodResizePending';
export const RESIZE_IN_PROGRESS = 'PodResizeInProgress';

/** A PodResizePending or PodResizeInProgress condition, as the kubelet set it. */
export interface ResizeCondition {
  /** `Deferred` or `Infeasible` (pending), `Error` or none (in progress). */
  reason?: string;
  message?: string;
  /** The pod generation the kubelet had seen when it set the condition. */
  observedGeneration?: number;
  /** Epoch ms of the condition's last transition. */
  since?: number;
}

export interface SlimContainer {
  name: string;
  /** `app`: spec.containers; `sidecar`: a restartable init container; `init`: an init container that has run (counts for the QoS class only). */
  kind: 'app' | 'sidecar' | 'init';
  requests: Amounts;
  limits: Amounts;
  /** The resources whose resizePolicy is RestartContainer: resizing them restarts the container. */
  restartOnResize: readonly ResourceName[];
  /** What the kubelet reports as applied (status resources); undefined while it reports nothing. */
  applied?: ContainerAmounts;
}

export interface SlimPod {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  /** The Deployment it belongs to, through its ReplicaSet. */
  workload?: WorkloadKey;
  labels: Readonly<Record<string, string>>;
  /** The webhook's `ebb.dev/injected` annotation is on it. */
  injected: boolean;
  /** That annotation's injection version, when it has one: a pod injected by an older ebb is repaired. */
  injectionVersion?: number;
  phase: string;
  deleting: boolean;
  ready: boolean;
  nodeName?: string;
  /** Epoch ms. */
  createdAt?: number;
  /** metadata.generation: the API server counts every spec change, a resize included. */
  generation: number;
  /** status.observedGeneration: the generation the kubelet last acted on. */
  observedGeneration?: number;
  qosClass?: QosClass;
  /** spec.resources is set: Kubernetes 1.35 resizes such a pod only behind an alpha gate. */
  podLevelResources: boolean;
  containers: readonly SlimContainer[];
  resizePending?: ResizeCondition;
  resizeInProgress?: ResizeCondition;
}

const epochMs = (time: Date | string | undefined): number | undefined => {
  if (time === undefined) return undefined;
  const ms = new Date(time).getTime();
  return Number.isNaN(ms) ? undefined : ms;
};

function condition(conditions: readonly V1PodCondition[] | undefined, type: string): ResizeCondition | undefined {
  const found = conditions?.find((c) => c.type === type && c.status === 'True');
  if (!found) return undefined;
  return {
    ...(found.reason ? { reason: found.reason } : {}),
    ...(found.message ? { message: found.message } : {}),
    ...(found.observedGeneration !== undefined ? { observedGeneration: Number(found.observedGeneration) } : {}),
    ...(found.lastTransitionTime !== undefined ? { since: epochMs(found.lastTransitionTime) } : {}),
  };
}

// Ten thousand pods are kept: what is the same in most of them is one shared object, not a copy
// each (an empty list, an empty resource list, applied amounts equal to the spec's).
const NONE: readonly ResourceName[] = Object.freeze([]);
const NO_AMOUNTS: Amounts = Object.freeze({});
const shared = (amounts: Amounts): Amounts => (Object.keys(amounts).length === 0 ? NO_AMOUNTS : amounts);
const same = (a: Amounts, b: Amounts) => RESOURCES.every((resource) => a[resource] === b[resource]);

function slimContainer(container: V1Container, kind: SlimContainer['kind'], statuses: readonly V1ContainerStatus[] | undefined): SlimContainer {
  const status = statuses?.find((s) => s.name === container.name);
  const restartOnResize = RESOURCES.filter((resource) =>
    container.resizePolicy?.some((p) => p.resourceName === resource && p.restartPolicy === 'RestartContainer'),
  );
  const spec: ContainerAmounts = { requests: shared(amountsOf(container.resources?.requests)), limits: shared(amountsOf(container.resources?.limits)) };
  let applied: ContainerAmounts | undefined;
  if (status?.resources) {
    const reported = { requests: amountsOf(status.resources.requests), limits: amountsOf(status.resources.limits) };
    applied =
      same(reported.requests, spec.requests) && same(reported.limits, spec.limits)
        ? spec
        : { requests: shared(reported.requests), limits: shared(reported.limits) };
  }
  return {
    name: container.name,
    kind,
    ...spec,
    restartOnResize: restartOnResize.length === 0 ? NONE : restartOnResize,
    ...(applied ? { applied } : {}),
  };
}

/** The pod as the controller keeps it; `workload` says which Deployment owns it. */
export function slimPod(pod: V1Pod, workload: WorkloadKey | undefined): SlimPod {
  const { spec, status } = pod;
  const containers = [
    ...(spec?.containers ?? []).map((c) => slimContainer(c, 'app', status?.containerStatuses)),
    ...(spec?.initContainers ?? []).map((c) => slimContainer(c, c.restartPolicy === 'Always' ? 'sidecar' : 'init', status?.initContainerStatuses)),
  ];
  return {
    ...slimMetadata(pod.metadata ?? {}),
    ...(workload ? { workload } : {}),
    ...(spec?.nodeName ? { nodeName: spec.nodeName } : {}),
    podLevelResources: Object.keys(spec?.resources?.requests ?? {}).length + Object.keys(spec?.resources?.limits ?? {}).length > 0,
    ...slimStatus(status ?? {}),
    containers,
  };
}

type SlimMetadata = Pick<
  SlimPod,
  'namespace' | 'name' | 'uid' | 'resourceVersion' | 'labels' | 'injected' | 'injectionVersion' | 'deleting' | 'createdAt' | 'generation'
>;

function slimMetadata(metadata: NonNullable<V1Pod['metadata']>): SlimMetadata {
  const createdAt = epochMs(metadata.creationTimestamp);
  const version = injectionVersion(metadata.annotations);
  return {
    namespace: metadata.namespace ?? '',
    name: metadata.name ?? '',
    uid: metadata.uid ?? '',
    resourceVersion: metadata.resourceVersion ?? '',
    labels: metadata.labels ?? {},
    injected: metadata.annotations?.[INJECTED_ANNOTATION] !== undefined,
    ...(version !== undefined ? { injectionVersion: version } : {}),
    deleting: metadata.deletionTimestamp !== undefined,
    ...(createdAt !== undefined ? { createdAt } : {}),
    generation: Number(metadata.generation ?? 1),
  };
}

type SlimStatus = Pick<SlimPod, 'phase' | 'ready' | 'observedGeneration' | 'qosClass' | 'resizePending' | 'resizeInProgress'>;

function slimStatus(status: NonNullable<V1Pod['status']>): SlimStatus {
  const pending = condition(status.conditions, RESIZE_PENDING);
  const inProgress = condition(status.conditions, RESIZE_IN_PROGRESS);
  return {
    phase: status.phase ?? 'Pending',
    ready: status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    ...(status.observedGeneration !== undefined ? { observedGeneration: Number(status.observedGeneration) } : {}),
    ...(status.qosClass ? { qosClass: status.qosClass as QosClass } : {}),
    ...(pending ? { resizePending: pending } : {}),
    ...(inProgress ? { resizeInProgress: inProgress } : {}),
  };
}
