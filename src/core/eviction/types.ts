// What the eviction planner is given: the pods offered for replacement, and each workload's pods
// as the caches show them.

import type { WorkloadKey } from '../../protocol/workload.ts';

export interface EvictionCandidate {
  workload: WorkloadKey;
  /** `namespace/name`. */
  pod: string;
  podUid: string;
  /** Higher goes first. */
  priority: number;
  /** When the pod was first offered: among equal priorities the longest waiting goes first. */
  offeredAt: number;
  /** Why the pod should be replaced, in words. */
  why: string;
}

export interface PodState {
  /** `namespace/name`. */
  name: string;
  uid: string;
  ready: boolean;
  /** It has a deletionTimestamp: it is going away. */
  terminating: boolean;
}

export interface WorkloadPods {
  /** spec.replicas: that many pods must be Ready before one is disrupted. */
  replicas: number;
  /** Every pod of the workload in the cache, terminating ones included. */
  pods: readonly PodState[];
  maxReplicas: number;
  /** Why ebb may not change the workload's replicas (ebb.dev/paused, a HorizontalPodAutoscaler), if so: then no surge. */
  replicasHeldBy?: string;
}
