// The eviction planner: the pods offered for replacement, each workload's pods and readiness, the
// policy, what was evicted when, and now → which pod to evict now, which surge replicas to ask
// for, and why every other pod waits. Pure; the caller evicts, records the outcome (state.ts) and
// plans again.
//
// The rules, each of which may make a pod wait (and then says why):
//   eviction off (ratePerMinute 0) or outside every eviction window;
//   the workload's last eviction was refused: retried after a backoff, never in a storm;
//   one pod of a workload at a time: the pod evicted before has left, and the workload has all
//   its replicas again, every other pod Ready;
//   never a workload's last Ready pod: a single replica gets a surge replica first (within
//   max-replicas; not when ebb may not change its replicas), evicted once that is Ready;
//   the cluster-wide rate limit: eviction requests (refused ones too) at least 60 s /
//   ratePerMinute apart, so never more than ratePerMinute in any minute, and never in a burst.

import type { WorkloadKey } from '../../protocol/workload.ts';
import { formatElapsed } from '../decider/reason.ts';
import { isWindowActive } from '../keep-warm-schedule.ts';
import type { EvictionPolicy } from '../policy.ts';
import { formatTimeWindow } from '../time-window.ts';
import { settle, SURGE_READY_TIMEOUT_MS, type EvictionState, type Surge } from './state.ts';
import type { EvictionCandidate, WorkloadPods } from './types.ts';

export interface PlanInput<C extends EvictionCandidate> {
  candidates: readonly C[];
  workloads: ReadonlyMap<WorkloadKey, WorkloadPods>;
  policy: EvictionPolicy;
  state: EvictionState;
  now: number;
}

export interface Waiting<C> {
  candidate: C;
  /** Why, in words that follow "pod <name> ": `waits for the eviction rate limit (5/min)`. */
  why: string;
}

export interface Plan<C> {
  /** The pod to evict now, if any; `surged` when a surge replica stands in for it. */
  evict?: { candidate: C; surged: boolean };
  waiting: Waiting<C>[];
  /** Surge replicas asked for by this plan (they are in `state.surges`). */
  surgesStarted: { workload: WorkloadKey; surge: Surge }[];
  /** Keep it, and record the eviction's outcome in it. */
  state: EvictionState;
  /** The earliest time at which time alone changes the plan (a rate slot, a retry, a surge's deadline). */
  nextAt?: number;
}

type Verdict = { wait: string; at?: number } | { surge: Surge } | { go: { surged: boolean } };

interface Context {
  policy: EvictionPolicy;
  now: number;
  state: EvictionState;
  workloads: ReadonlyMap<WorkloadKey, WorkloadPods>;
  surges: Map<WorkloadKey, Surge>;
  /** Workloads that already have a pod evicted or a surge started in this plan. */
  busy: Set<WorkloadKey>;
}

export function planEvictions<C extends EvictionCandidate>(input: PlanInput<C>): Plan<C> {
  const { policy, now, workloads } = input;
  const settled = settle(input.state, input.candidates, workloads, now);
  const context: Context = { policy, now, state: settled, workloads, surges: new Map(settled.surges), busy: new Set() };
  const intervalMs = 60_000 / policy.ratePerMinute;
  let slotAt = settled.lastRequestAt === undefined ? now : settled.lastRequestAt + intervalMs;
  const plan: Plan<C> = { waiting: [], surgesStarted: [], state: settled };
  const waitUntil = (at: number | undefined) => {
    if (at !== undefined && at > now && (plan.nextAt === undefined || at < plan.nextAt)) plan.nextAt = at;
  };

  for (const candidate of [...input.candidates].sort(firstInLine)) {
    const verdict = judge(candidate, context);
    if ('wait' in verdict) {
      plan.waiting.push({ candidate, why: verdict.wait });
      waitUntil(verdict.at);
    } else if ('surge' in verdict) {
      context.surges.set(candidate.workload, verdict.surge);
      context.busy.add(candidate.workload);
      plan.surgesStarted.push({ workload: candidate.workload, surge: verdict.surge });
      plan.waiting.push({ candidate, why: surgeWait(candidate.workload, verdict.surge) });
      waitUntil(verdict.surge.since + SURGE_READY_TIMEOUT_MS);
    } else if (plan.evict !== undefined || now < slotAt) {
      plan.waiting.push({ candidate, why: `waits for the eviction rate limit (${policy.ratePerMinute}/min)` });
      waitUntil(slotAt);
    } else {
      plan.evict = { candidate, surged: verdict.go.surged };
      context.busy.add(candidate.workload);
      slotAt = now + intervalMs;
    }
  }
  plan.state = { ...settled, surges: context.surges };
  return plan;
}

/** Higher priority first; then the longest offered; then by name, so the order is stable. */
function firstInLine(a: EvictionCandidate, b: EvictionCandidate): number {
  return b.priority - a.priority || a.offeredAt - b.offeredAt || a.pod.localeCompare(b.pod);
}

function judge(candidate: EvictionCandidate, context: Context): Verdict {
  const { policy, now, state } = context;
  if (state.reported.has(candidate.podUid)) return { wait: 'was reported in dry run (eviction.dryRun: nothing is evicted)' };
  if (policy.ratePerMinute === 0) return { wait: 'waits: eviction is off (eviction.ratePerMinute is 0)' };
  if (policy.windows.length > 0 && !policy.windows.some((window) => isWindowActive(window, now))) {
    return { wait: `waits for an eviction window (${policy.windows.map(formatTimeWindow).join('; ')})` };
  }
  const pods = context.workloads.get(candidate.workload);
  if (!pods) return { wait: `waits: Deployment ${candidate.workload} is not in the cache` };
  const refusal = state.refused.get(candidate.workload);
  if (refusal && now < refusal.retryAt) return { wait: `waits: ${refusal.why}; next try in ${formatElapsed(refusal.retryAt - now)}`, at: refusal.retryAt };
  if (context.busy.has(candidate.workload)) return { wait: `waits: one pod of ${candidate.workload} at a time` };
  return judgeWorkload(candidate, pods, context);
}

/** The workload's own rules: one disruption at a time, every other pod Ready, never its last Ready pod. */
function judgeWorkload(candidate: EvictionCandidate, pods: WorkloadPods, context: Context): Verdict {
  const workload = candidate.workload;
  const evicted = context.state.evicted.get(workload);
  if (evicted) return { wait: evicted.podUid === candidate.podUid ? 'is being evicted' : `waits until pod ${evicted.pod}, evicted, has been replaced` };
  const terminating = pods.pods.find((pod) => pod.terminating);
  if (terminating)
    return { wait: terminating.uid === candidate.podUid ? 'is terminating' : `waits until pod ${terminating.name}, terminating, has been replaced` };

  const others = pods.pods.filter((pod) => pod.uid !== candidate.podUid);
  const short = pods.pods.length < pods.replicas;
  const unready = others.find((pod) => !pod.ready);
  const surge = context.surges.get(workload);
  if (surge && (short || unready !== undefined || others.length === 0)) return { wait: surgeWait(workload, surge), at: surge.since + SURGE_READY_TIMEOUT_MS };
  if (short) return { wait: `waits until ${workload} has all its ${pods.replicas} replicas (${pods.pods.length} now)` };
  if (unready) return { wait: `waits for pod ${unready.name} to be Ready` };
  if (others.length === 0) return surgeFor(candidate, pods, context);
  return { go: { surged: surge !== undefined } };
}

/** The workload's only pod: one more replica first, so a Ready pod serves while it is replaced. */
function surgeFor(candidate: EvictionCandidate, pods: WorkloadPods, context: Context): Verdict {
  const { policy, now } = context;
  const onlyPod = `cannot be replaced safely: it is the only pod of ${candidate.workload}`;
  if (pods.replicas === 0) return { wait: `waits: ${candidate.workload} is scaled to zero` };
  if (pods.replicasHeldBy !== undefined) return { wait: `${onlyPod}, and ebb may not add a surge replica (${pods.replicasHeldBy})` };
  if (pods.replicas + 1 > pods.maxReplicas) return { wait: `${onlyPod}, and max-replicas ${pods.maxReplicas} leaves no room for a surge replica` };
  // A dry run reports the eviction (with the surge it would need) and changes no replica count.
  if (policy.dryRun) return { go: { surged: true } };
  // Surge replicas wait for rate slots: no more at once than a minute's evictions can use.
  if (context.surges.size >= policy.ratePerMinute)
    return { wait: `waits for a surge slot (at most ${policy.ratePerMinute} surge replicas at once, as eviction.ratePerMinute)` };
  return { surge: { replicas: pods.replicas + 1, pod: candidate.pod, since: now } };
}

function surgeWait(workload: WorkloadKey, surge: Surge): string {
  return `waits for a surge replica of ${workload} to be Ready (${surge.replicas - 1} → ${surge.replicas} while it is replaced)`;
}
