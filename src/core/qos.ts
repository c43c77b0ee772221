// A pod's QoS class, computed as the API server computes it (ComputePodQOS in
// pkg/apis/core/v1/helper/qos): BestEffort when no container has a CPU or memory request or limit;
// Guaranteed when every container (init containers and sidecars included) has both limits and the
// requests add up to the limits; else Burstable. Pod-level resources, when set, decide alone.
//
// Admission must not change it. The class decides eviction order and the kubelet's CPU and memory
// management, it is immutable once the pod exists (a resize may not change it), and a quota scoped
// to BestEffort or NotBestEffort pods counts a pod by it.
import type { V1PodSpec } from '@kubernetes/client-node';
import { podContainers, RESOURCES, type Amounts, type ContainerAmounts, type PodContainers } from './pod-resources.ts';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

export function qosClass(spec: V1PodSpec | undefined): QosClass {
  return qosOf(podContainers(spec));
}

/** The class of a pod given as amounts (for a pod as ebb is about to change it). */
export function qosOf(pod: PodContainers): QosClass {
  const parts: readonly ContainerAmounts[] = pod.podLevel ? [pod.podLevel] : [...pod.containers, ...pod.initContainers];
  const requests: Amounts = {};
  const limits: Amounts = {};
  let everyPartLimited = true;
  for (const part of parts) {
    for (const resource of RESOURCES) {
      const request = part.requests[resource] ?? 0;
      const limit = part.limits[resource] ?? 0;
      // Zero counts as absent, as in the API server.
      if (request > 0) requests[resource] = (requests[resource] ?? 0) + request;
      if (limit > 0) limits[resource] = (limits[resource] ?? 0) + limit;
      if (limit <= 0) everyPartLimited = false;
    }
  }
  if (Object.keys(requests).length === 0 && Object.keys(limits).length === 0) return 'BestEffort';
  const requestsMatchLimits = RESOURCES.every((resource) => requests[resource] === limits[resource]);
  return everyPartLimited && requestsMatchLimits ? 'Guaranteed' : 'Burstable';
}
