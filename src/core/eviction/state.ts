// What the eviction planner remembers between rounds, and how an eviction's outcome changes it.
// Pure: the caller keeps the state, hands it to planEvictions() each round and records each
// outcome here with the time it happened.

import type { WorkloadKey } from '../../protocol/workload.ts';
import type { EvictionCandidate, WorkloadPods } from './types.ts';

/** A refused eviction (a PodDisruptionBudget said no, or the API failed) is tried again after this, doubling per refusal in a row. */
export const REFUSAL_BACKOFF = { firstMs: 5_000, maxMs: 5 * 60_000 } as const;
/**
 * How long a surge replica may take to be Ready (a cluster without room for one more pod never
 * makes it Ready); after that ebb gives the surge up and treats the eviction as refused.
 */
export const SURGE_READY_TIMEOUT_MS = 5 * 60_000;

export interface Refusal {
  /** Refusals in a row for this workload; the backoff doubles with each. */
  attempts: number;
  retryAt: number;
  /** Why, in words that follow "waits: ". */
  why: string;
}

/** One extra replica asked for so that a workload's only Ready pod can be evicted. */
export interface Surge {
  /** The count to hold while the pod is replaced: the count before plus one. */
  replicas: number;
  /** The pod it makes room for (`namespace/name`), for messages. */
  pod: string;
  since: number;
  /** The pod evicted under this surge, once it is: the surge ends when its replacement is Ready. */
  evictedUid?: string;
  evictedAt?: number;
}

export interface EvictionState {
  /**
   * When the last eviction request was made, accepted or refused (or a dry-run report): the next
   * waits 60 s / ratePerMinute, so refusals cannot add up to a storm of requests either.
   */
  lastRequestAt?: number;
  /** Per workload: the pod evicted last, until it has left the workload's pods. */
  evicted: ReadonlyMap<WorkloadKey, { pod: string; podUid: string }>;
  /** Per workload: the latest refusal of a refusal episode (until an eviction succeeds or nothing is on offer). */
  refused: ReadonlyMap<WorkloadKey, Refusal>;
  surges: ReadonlyMap<WorkloadKey, Surge>;
  /** Pods already reported in dry run (uids): each is reported once. */
  reported: ReadonlySet<string>;
}

export const INITIAL_EVICTION_STATE: EvictionState = { evicted: new Map(), refused: new Map(), surges: new Map(), reported: new Set() };

/** The Eviction API accepted (or, in dry run, the planner reported) the eviction of `candidate` at `now`. */
export function recordEvicted(state: EvictionState, candidate: EvictionCandidate, now: number, dryRun: boolean): EvictionState {
  if (dryRun) return { ...state, lastRequestAt: now, reported: new Set([...state.reported, candidate.podUid]) };
  const refused = new Map(state.refused);
  refused.delete(candidate.workload);
  const surges = new Map(state.surges);
  const surge = surges.get(candidate.workload);
  if (surge) surges.set(candidate.workload, { ...surge, evictedUid: candidate.podUid, evictedAt: now });
  const evicted = new Map(state.evicted).set(candidate.workload, { pod: candidate.pod, podUid: candidate.podUid });
  return { ...state, lastRequestAt: now, evicted, refused, surges };
}

/**
 * The eviction of `candidate` was refused, or failed (`why` follows "waits: "). The request took
 * its rate slot; the workload is tried again after a backoff. `first` is true for the first
 * refusal of an episode, which is worth an Event (the retries are not).
 */
export function recordRefused(state: EvictionState, candidate: EvictionCandidate, why: string, now: number): { state: EvictionState; first: boolean } {
  const previous = state.refused.get(candidate.workload);
  return { state: { ...state, lastRequestAt: now, refused: refuse(state.refused, candidate.workload, why, now) }, first: previous === undefined };
}

function refuse(refused: ReadonlyMap<WorkloadKey, Refusal>, workload: WorkloadKey, why: string, now: number): Map<WorkloadKey, Refusal> {
  const attempts = (refused.get(workload)?.attempts ?? 0) + 1;
  const backoffMs = Math.min(REFUSAL_BACKOFF.maxMs, REFUSAL_BACKOFF.firstMs * 2 ** (attempts - 1));
  return new Map(refused).set(workload, { attempts, retryAt: now + backoffMs, why });
}

/**
 * Forgets what is over: an evicted pod that has left its workload, a surge whose replacement is
 * Ready (or that is no longer needed, or whose replica never became Ready: then a refusal), the
 * refusals of workloads with nothing on offer, dry-run reports of pods no longer offered.
 */
export function settle(
  state: EvictionState,
  candidates: readonly EvictionCandidate[],
  workloads: ReadonlyMap<WorkloadKey, WorkloadPods>,
  now: number,
): EvictionState {
  const offered = new Set(candidates.map((candidate) => candidate.workload));
  const offeredPods = new Set(candidates.map((candidate) => candidate.podUid));
  const present = (workload: WorkloadKey, uid: string) => workloads.get(workload)?.pods.some((pod) => pod.uid === uid) ?? false;

  const evicted = new Map([...state.evicted].filter(([workload, { podUid }]) => present(workload, podUid)));
  let refused = new Map([...state.refused].filter(([workload]) => offered.has(workload)));
  const surges = new Map<WorkloadKey, Surge>();
  for (const [workload, surge] of state.surges) {
    const pods = workloads.get(workload);
    if (!pods) continue;
    if (surge.evictedUid === undefined) {
      if (!offered.has(workload)) continue;
      if (now - surge.since >= SURGE_READY_TIMEOUT_MS) {
        refused = refuse(refused, workload, `its surge replica was not Ready within ${SURGE_READY_TIMEOUT_MS / 60_000}m, so its only Ready pod stays`, now);
        continue;
      }
      surges.set(workload, surge);
      continue;
    }
    const replaced = !present(workload, surge.evictedUid) && readyCount(pods) >= pods.replicas;
    if (!replaced && now - surge.evictedAt! < SURGE_READY_TIMEOUT_MS) surges.set(workload, surge);
  }
  const reported = new Set([...state.reported].filter((uid) => offeredPods.has(uid)));
  return { ...state, evicted, refused, surges, reported };
}

/** Pods that serve: Ready and not going away. */
export function readyCount(workload: WorkloadPods): number {
  return workload.pods.filter((pod) => pod.ready && !pod.terminating).length;
}
