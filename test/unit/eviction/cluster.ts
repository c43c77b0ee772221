// Builders for the eviction planner's inputs: pods, workloads, candidates and the policy.
import type { EvictionCandidate, PodState, WorkloadPods } from '../../../src/core/eviction/index.ts';
import type { EvictionPolicy } from '../../../src/core/policy.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';

/** Tuesday 1 December 2026, 12:00 UTC. */
export const T0 = Date.UTC(2026, 11, 1, 12);
export const SECOND_MS = 1000;
export const MINUTE_MS = 60_000;

export const evictionPolicy = (overrides: Partial<EvictionPolicy> = {}): EvictionPolicy => ({ ratePerMinute: 5, windows: [], dryRun: false, ...overrides });

/** A Ready pod of shop/<name>, its uid its name. */
export const pod = (name: string, overrides: Partial<PodState> = {}): PodState => ({
  name: `shop/${name}`,
  uid: name,
  ready: true,
  terminating: false,
  ...overrides,
});

export const workloadPods = (pods: readonly PodState[], overrides: Partial<WorkloadPods> = {}): WorkloadPods => ({
  replicas: pods.length,
  pods,
  maxReplicas: 10,
  ...overrides,
});

export const candidate = (podName: string, overrides: Partial<EvictionCandidate> = {}): EvictionCandidate => ({
  workload: `shop/${podName.replace(/-\d+$/, '')}` as WorkloadKey,
  pod: `shop/${podName}`,
  podUid: podName,
  priority: 1,
  offeredAt: T0,
  why: 'its requests are out of range',
  ...overrides,
});
