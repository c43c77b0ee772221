// Where a sleeping Service's held requests may go, read from its pods: what the EndpointSlice
// controller would list as ready endpoints, computed by the agent itself. (The slices cannot be
// the source: they lag the pods they are derived from, and an API server refuses loopback and
// link-local addresses in them, so on a loopback test cluster they never list a pod at all.)
// Pure: pods and Services in, candidates out.

import type { V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { podPortFor } from '../../../src/core/service-target.ts';
import { INTERCEPTOR_READY_PATH } from '../../../src/protocol/sidecar.ts';
import { interceptorTarget } from '../discovery.ts';
import type { Backend } from './directory.ts';

export interface BackendCandidate {
  /** `namespace/pod`, for logs. */
  pod: string;
  backend: Backend;
  /** The interceptor's readiness URL when the pod is injected; else the backend port is probed. */
  readyUrl: string | undefined;
}

/** Ready (condition Ready=True), not terminating, and with an IP: what an endpoint's `ready` means. */
export function isServingPod(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp || !pod.status?.podIP) return false;
  return pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Whether the Service's selector picks the pod. A Service without a selector has no pods. */
export function selects(service: V1Service, pod: V1Pod): boolean {
  const selector = Object.entries(service.spec?.selector ?? {});
  if (selector.length === 0) return false;
  const labels = pod.metadata?.labels ?? {};
  return selector.every(([key, value]) => labels[key] === value);
}

/**
 * The Service port a request came for, by the name its activator port stands for; none when the
 * Service no longer has it (its traffic must not go to another port's pods).
 */
export function servicePortNamed(service: V1Service, name: string): V1ServicePort | undefined {
  return (service.spec?.ports ?? []).find((p) => (p.name ?? '') === name);
}

/** The Service's serving pods, each with the address its traffic for the named port goes to. */
export function backendCandidates(service: V1Service, portName: string, pods: readonly V1Pod[]): BackendCandidate[] {
  const servicePort = servicePortNamed(service, portName);
  if (!servicePort) return [];
  return pods.flatMap((pod) => {
    if (pod.metadata?.namespace !== service.metadata?.namespace || !selects(service, pod) || !isServingPod(pod)) return [];
    const port = podPortFor(pod, servicePort);
    if (port === undefined) return [];
    const adminUrl = interceptorTarget(pod)?.adminUrl;
    return [
      {
        pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`,
        backend: { host: pod.status!.podIP!, port },
        readyUrl: adminUrl && `${adminUrl}${INTERCEPTOR_READY_PATH}`,
      },
    ];
  });
}
