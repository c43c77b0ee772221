// The disruption manager: the one part of ebb that evicts. The in-place resizer and the repair
// offer pods (DisruptionQueue); each round on the leader the planner (src/core/eviction) decides
// which pod goes now, which surge replicas the scaler must hold and why every other pod waits; the
// manager evicts through the Eviction API, records the outcome and tells it: Events on the
// Deployment (Evicted, Repaired, EvictionBlocked once per refusal episode, WouldEvict in dry run),
// metrics, and what waits per workload for the status. Between rounds a timer runs it again when
// time alone lets a pod go (the next rate slot, the end of a backoff), so evictions keep the
// configured pace whatever the round interval.

import {
  INITIAL_EVICTION_STATE,
  planEvictions,
  recordEvicted,
  recordRefused,
  type EvictionCandidate,
  type EvictionState,
  type Waiting,
  type WorkloadPods,
} from '../core/eviction/index.ts';
import type { EvictionPolicy } from '../core/policy.ts';
import type { SlimPod } from '../core/resize/slim-pod.ts';
import type { EventType } from '../kube/events.ts';
import type { EvictionResult } from '../kube/eviction.ts';
import type { WorkloadKey } from '../protocol/workload.ts';
import type { DisruptionCandidate, DisruptionQueue, DisruptionSource } from './disruption.ts';
import type { ControllerMetrics } from './metrics.ts';

/** A workload as the rules need it, from the caches. */
export interface DisruptedWorkload {
  /** spec.replicas. */
  replicas: number;
  maxReplicas: number;
  /** ebb.dev/paused, or an HPA that scales it: ebb may not change its replicas, so no surge replica. */
  paused: boolean;
  hpa?: string;
  pods: readonly SlimPod[];
}

export interface DisruptionManagerOptions {
  isLeader(): boolean;
  policy(): EvictionPolicy;
  /** The opted-in Deployment, or undefined when it is not (any more). */
  workload(key: WorkloadKey): DisruptedWorkload | undefined;
  evict(pod: { namespace: string; name: string; uid: string }): Promise<EvictionResult>;
  /** An Event on the workload's Deployment. */
  event(workload: WorkloadKey, type: EventType, reason: string, message: string): Promise<void>;
  metrics: ControllerMetrics;
  log(level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void;
  clock?: () => number;
}

type Candidate = DisruptionCandidate & EvictionCandidate;

export class DisruptionManager implements DisruptionQueue {
  private readonly offers = new Map<DisruptionSource, readonly DisruptionCandidate[]>();
  /** Pod uid → when it was first offered. */
  private readonly offeredAt = new Map<string, number>();
  private state: EvictionState = INITIAL_EVICTION_STATE;
  private waiting: readonly Waiting<Candidate>[] = [];
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;

  constructor(private readonly options: DisruptionManagerOptions) {
    this.clock = options.clock ?? Date.now;
  }

  offer(source: DisruptionSource, candidates: readonly DisruptionCandidate[]): void {
    this.offers.set(source, candidates);
  }

  /** The replica floor the scaler must hold while a single-replica workload's pod is replaced. */
  surgeFor(workload: WorkloadKey): { replicas: number; why: string } | undefined {
    const surge = this.state.surges.get(workload);
    return surge && { replicas: surge.replicas, why: `one replica more while pod ${surge.pod} is replaced` };
  }

  /** Why the workload's offered pods wait, one line per pod: `pod shop/web-1 waits for the eviction rate limit (5/min)`. */
  pendingFor(workload: WorkloadKey): string[] {
    return this.waiting.filter(({ candidate }) => candidate.workload === workload).map(({ candidate, why }) => `pod ${candidate.pod} ${why}`);
  }

  /** One round; a round already under way is not started twice. */
  run(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private async round(): Promise<void> {
    const { options } = this;
    if (!options.isLeader()) return this.forgetAll();
    const candidates = this.candidates();
    const policy = options.policy();
    let nextAt: number | undefined;
    // Plan again after each outcome, so that the last plan says why the rest waits (and, at a rate
    // high enough, the next in line goes in the same round). Every outcome but a pod already gone
    // takes a rate slot, so the loop ends.
    for (let attempt = 0; attempt <= candidates.length; attempt++) {
      const now = this.clock();
      const plan = planEvictions({ candidates, workloads: this.workloads(candidates), policy, state: this.state, now });
      this.state = plan.state;
      this.waiting = plan.waiting;
      nextAt = plan.nextAt;
      for (const { workload, surge } of plan.surgesStarted) {
        options.log('info', `surge replica for ${workload} (${surge.replicas - 1} → ${surge.replicas}) before pod ${surge.pod} is evicted`, { workload });
      }
      if (!plan.evict || !(await this.carryOut(plan.evict.candidate, plan.evict.surged, policy))) break;
    }
    options.metrics.disruptionsWaiting.set(this.waiting.length);
    this.schedule(nextAt);
  }

  /** Evicts (or, in dry run, reports) the pod; false when the pod was gone, which changes nothing to plan from. */
  private async carryOut(candidate: Candidate, surged: boolean, policy: EvictionPolicy): Promise<boolean> {
    const { options } = this;
    const fields = { workload: candidate.workload, pod: candidate.pod, source: candidate.source };
    if (policy.dryRun) {
      this.state = recordEvicted(this.state, candidate, this.clock(), true);
      options.metrics.evictions.inc({ outcome: 'dry-run' });
      this.tell(
        candidate.workload,
        'Normal',
        'WouldEvict',
        `dry run (eviction.dryRun): would evict pod ${candidate.pod}${surged ? ' after adding a surge replica' : ''} (${candidate.why})`,
      );
      return true;
    }
    const [namespace = '', name = ''] = candidate.pod.split('/');
    let result: EvictionResult;
    try {
      result = await options.evict({ namespace, name, uid: candidate.podUid });
    } catch (error) {
      result = { outcome: 'failed', message: error instanceof Error ? error.message : String(error) };
    }
    const now = this.clock();
    switch (result.outcome) {
      case 'evicted':
        this.state = recordEvicted(this.state, candidate, now, false);
        options.metrics.evictions.inc({ outcome: 'evicted' });
        if (candidate.source === 'repair') {
          options.metrics.repairs.inc();
          this.tell(candidate.workload, 'Normal', 'Repaired', `evicted pod ${candidate.pod}, which ${candidate.why}; its replacement goes through the webhook`);
        } else {
          this.tell(
            candidate.workload,
            'Normal',
            'Evicted',
            `evicted pod ${candidate.pod} (${candidate.why})${surged ? '; a surge replica serves meanwhile' : ''}`,
          );
        }
        options.log('info', `evicted pod ${candidate.pod}: ${candidate.why}`, fields);
        return true;
      case 'refused': {
        const refused = recordRefused(this.state, candidate, `a PodDisruptionBudget refused its eviction (${result.message})`, now);
        this.state = refused.state;
        options.metrics.evictions.inc({ outcome: 'blocked' });
        if (refused.first)
          this.tell(
            candidate.workload,
            'Warning',
            'EvictionBlocked',
            `cannot evict pod ${candidate.pod} now: ${result.message}; ebb tries again later, backing off`,
          );
        return true;
      }
      case 'failed':
        this.state = recordRefused(this.state, candidate, `its eviction failed (${result.message})`, now).state;
        options.metrics.evictions.inc({ outcome: 'failed' });
        options.log('warn', `eviction of pod ${candidate.pod} failed: ${result.message}`, fields);
        return true;
      case 'gone':
        // The cache will show it gone; the next round plans from that.
        options.metrics.evictions.inc({ outcome: 'gone' });
        return false;
    }
  }

  /** Every source's offers, one candidate per pod (the higher priority), with when each was first offered. */
  private candidates(): Candidate[] {
    const now = this.clock();
    const byPod = new Map<string, DisruptionCandidate>();
    for (const offered of this.offers.values()) {
      for (const candidate of offered) {
        const known = byPod.get(candidate.podUid);
        if (!known || candidate.priority > known.priority) byPod.set(candidate.podUid, candidate);
      }
    }
    for (const uid of this.offeredAt.keys()) if (!byPod.has(uid)) this.offeredAt.delete(uid);
    return [...byPod.values()].map((candidate) => {
      if (!this.offeredAt.has(candidate.podUid)) this.offeredAt.set(candidate.podUid, now);
      return { ...candidate, offeredAt: this.offeredAt.get(candidate.podUid)! };
    });
  }

  /** The planner's view of every workload it may need: those offered, and those it still follows. */
  private workloads(candidates: readonly Candidate[]): Map<WorkloadKey, WorkloadPods> {
    const keys = new Set<WorkloadKey>([...candidates.map((candidate) => candidate.workload), ...this.state.surges.keys(), ...this.state.evicted.keys()]);
    const views = new Map<WorkloadKey, WorkloadPods>();
    for (const key of keys) {
      const workload = this.options.workload(key);
      if (!workload) continue;
      const replicasHeldBy = workload.paused ? 'ebb.dev/paused' : workload.hpa !== undefined ? `HorizontalPodAutoscaler ${workload.hpa} scales it` : undefined;
      views.set(key, {
        replicas: workload.replicas,
        maxReplicas: workload.maxReplicas,
        ...(replicasHeldBy !== undefined ? { replicasHeldBy } : {}),
        pods: workload.pods.map((pod) => ({ name: `${pod.namespace}/${pod.name}`, uid: pod.uid, ready: pod.ready, terminating: pod.deleting })),
      });
    }
    return views;
  }

  /** A timer for when time alone lets a pod go; the rounds cover everything else. */
  private schedule(at: number | undefined): void {
    clearTimeout(this.timer);
    if (at === undefined) return;
    this.timer = setTimeout(() => void this.run(), Math.max(0, at - this.clock()));
    this.timer.unref();
  }

  private tell(workload: WorkloadKey, type: EventType, reason: string, message: string): void {
    void this.options.event(workload, type, reason, message).catch((error: unknown) => this.options.log('warn', `event: ${String(error)}`));
  }

  /** A replica that stops leading forgets what it planned: its successor starts afresh. */
  private forgetAll(): void {
    clearTimeout(this.timer);
    this.offers.clear();
    this.offeredAt.clear();
    this.state = INITIAL_EVICTION_STATE;
    this.waiting = [];
    this.options.metrics.disruptionsWaiting.set(0);
  }
}
