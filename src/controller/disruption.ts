// The contract between what wants a pod replaced and what decides when it may be: the in-place
// resizer (a pod whose requests cannot be fixed in place: mode `evict`, `auto` after an
// infeasible resize, a `RestartContainer` resize policy) and the repair of pods that missed the
// webhook offer candidates; the disruption manager alone evicts, under the safety rules (Eviction
// API and PDBs, one pod of a workload at a time and only while its others are Ready, the
// cluster-wide rate limit and windows, dry run, a surge replica for a single-replica workload).

import type { WorkloadKey } from '../protocol/workload.ts';

export type DisruptionSource = 'resize' | 'repair';

export interface DisruptionCandidate {
  workload: WorkloadKey;
  /** `namespace/name`. */
  pod: string;
  podUid: string;
  source: DisruptionSource;
  /** Higher goes first: a pod whose usage is furthest above its request, or a pod without the sidecar. */
  priority: number;
  /** Why the pod should be replaced, in words for Events and the status. */
  why: string;
}

export interface DisruptionQueue {
  /**
   * The whole set of pods that `source` wants replaced now; it replaces what that source offered
   * before (a pod no longer offered is no longer wanted). Called once per round by each source.
   */
  offer(source: DisruptionSource, candidates: readonly DisruptionCandidate[]): void;
}
