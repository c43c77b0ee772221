// Where a pod's in-place resize stands, read from what the API server and the kubelet write
// (KEP-1287 as of Kubernetes 1.35). The API server only counts a resize as a spec change
// (metadata.generation + 1); the kubelet acknowledges a generation in status.observedGeneration
// and says what became of it in two conditions that carry the generation they judged:
// PodResizePending (reason Deferred: may fit later; Infeasible: never on this node) and
// PodResizeInProgress (no reason while it applies; Error when applying failed, retried by the
// kubelet). What it applied is in status.containerStatuses[].resources. Pure.
import { RESOURCES, type Amounts } from '../pod-resources.ts';
import type { SlimContainer, SlimPod } from './slim-pod.ts';

export type ResizeState =
  /** The node reports no applied resources: the API server refuses a resize of this pod. */
  | { kind: 'unreported' }
  /** The spec is applied and nothing is pending: a resize may be written. */
  | { kind: 'settled' }
  /** A resize is on its way: not yet seen by the kubelet, or seen and being applied. */
  | { kind: 'in-flight' }
  | { kind: 'error'; message: string }
  | { kind: 'deferred'; since: number | undefined; message: string }
  | { kind: 'infeasible'; message: string };

/** The containers a resize may change: the app containers and the native sidecars. */
export const resizable = (container: SlimContainer) => container.kind !== 'init';

// The kubelet reports what the runtime applied, which may differ from the spec by rounding (CPU
// shares and quota periods): a hair's difference is not a resize still under way.
const APPLIED_SLACK = 0.01;

function sameAmounts(spec: Amounts, applied: Amounts): boolean {
  return RESOURCES.every((resource) => {
    const [want, have] = [spec[resource], applied[resource]];
    if (want === undefined || have === undefined) return want === have;
    return Math.abs(want - have) <= Math.max(1, APPLIED_SLACK * want);
  });
}

const applied = (container: SlimContainer) =>
  container.applied !== undefined && sameAmounts(container.requests, container.applied.requests) && sameAmounts(container.limits, container.applied.limits);

export function resizeState(pod: SlimPod): ResizeState {
  // The API server's own test (isPodResizeRequestSupported) looks at the app containers.
  if (pod.containers.some((container) => container.kind === 'app' && container.applied === undefined)) return { kind: 'unreported' };
  const judgedOlder = (observed: number | undefined) => observed !== undefined && observed < pod.generation;
  const { resizePending: pending, resizeInProgress: progress } = pod;
  // A generation the kubelet has not acted on yet, or a condition about an older one, says
  // nothing about the current spec: wait for the kubelet.
  if (judgedOlder(pod.observedGeneration) || judgedOlder(pending?.observedGeneration) || judgedOlder(progress?.observedGeneration))
    return { kind: 'in-flight' };
  if (progress?.reason === 'Error') return { kind: 'error', message: progress.message ?? '' };
  if (progress) return { kind: 'in-flight' };
  if (pending?.reason === 'Infeasible') return { kind: 'infeasible', message: pending.message ?? '' };
  if (pending) return { kind: 'deferred', since: pending.since, message: pending.message ?? '' };
  const reported = pod.containers.filter((container) => resizable(container) && container.applied !== undefined);
  return reported.every(applied) ? { kind: 'settled' } : { kind: 'in-flight' };
}
