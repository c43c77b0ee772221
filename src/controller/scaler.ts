// The horizontal loop for every opted-in workload: activity in, a decision out, and the decision
// carried out through the scale subresource, with an Event and a status annotation saying why.
// One decision per workload at a time: ticks and wake-ups for the same workload are serialized,
// so however many agents ask to wake a workload at once, it is scaled up once. A decision that
// needs no write (nearly all of them, every tick) is taken and carried out synchronously: a tick
// of 1,000 workloads run as 1,000 interleaved async chains held every workload's intermediate
// objects alive until the last one settled, and paid a dozen promises per workload.

import {
  activityHorizonMs,
  ActivityWindow,
  decide,
  DEFAULT_TUNING,
  INITIAL_DECIDER_STATE,
  type ActivitySample,
  type DeciderState,
  type DeciderTuning,
  type Decision,
} from '../core/decider/index.ts';
import type { ScalingSettings } from '../core/settings.ts';
import type { WorkloadKey } from '../protocol/workload.ts';

/** A Deployment as the scaler needs it, read from the informer cache. */
export interface WorkloadView {
  key: WorkloadKey;
  namespace: string;
  name: string;
  uid?: string;
  settings: ScalingSettings;
  /** spec.replicas as the cache last saw it. */
  replicas: number;
  readyReplicas: number;
  /** The name of a HorizontalPodAutoscaler that targets this Deployment, if any. */
  hpa?: string;
  /** Why ebb does not see all of the workload's traffic (core/traffic-visibility.ts); empty when it does. */
  unobservedTraffic: readonly string[];
  /** A surge replica the disruption manager needs while a pod is replaced (DecideInput.surge). */
  surge?: { replicas: number; why: string };
  /** The Deployment's ebb.dev/status as last written, which a new status is compared with. */
  status?: string;
  /** The pod template's labels: the Services that select them are routed to the activators. */
  podLabels?: Readonly<Record<string, string>>;
}

export interface ScaleTarget {
  /** A fresh read of the count (not the cache). */
  read(namespace: string, name: string): Promise<number>;
  /** Sets the count to `to` only if it is still `from`; 'moved' (nothing written) when it is not. */
  move(namespace: string, name: string, change: { from: number; to: number }): Promise<'written' | 'moved'>;
}

export interface ScalerEffects {
  /** Queued by the implementation, never waited for: a decision does not wait for its Event. */
  event(workload: WorkloadView, type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** After each decision; the implementation decides whether it is worth a write, and queues it. */
  status(workload: WorkloadView, decision: Decision, lastRequestAt: number | undefined): void;
  /**
   * Traffic for the workload should go to the activators (true) or to its pods (false): undefined
   * when it already does, else the routing under way.
   */
  routeToActivator(workload: WorkloadView, asleep: boolean): Promise<void> | undefined;
  decided?(workload: WorkloadView, decision: Decision, durationMs: number): void;
}

interface WorkloadMemory {
  window: ActivityWindow;
  state: DeciderState;
  /** Set by a wake-up request until a decision has acted on it. */
  wakeRequestedAt?: number;
  /** When a wake-up last scaled the workload from zero, until a pod is Ready. */
  wokenAt?: number;
  notReadyReported?: boolean;
  hpaReported?: string;
  /** The causes of unobserved traffic already told in an Event. */
  trafficReported: ReadonlySet<string>;
}

/** Why a wake-up is not carried out: this replica does not lead, or ebb must not scale the workload. */
export type WakeRefusal = 'not-leader' | 'paused' | 'hpa-present';
export type WakeOutcome = { accepted: true } | { accepted: false; refusal: WakeRefusal; reason: string };

/** How long a woken workload may take to have a Ready pod before ebb says it cannot wake. */
export const WAKE_READY_WARNING_MS = 60_000;

export interface ScalerOptions {
  target: ScaleTarget;
  effects: ScalerEffects;
  isLeader: () => boolean;
  /** The decider's windows and rates (checked at start: core/decider/tuning.ts); default DEFAULT_TUNING. */
  tuning?: DeciderTuning;
}

export class Scaler {
  private readonly memory = new Map<WorkloadKey, WorkloadMemory>();
  private readonly queues = new Map<WorkloadKey, Promise<unknown>>();

  private readonly tuning: DeciderTuning;

  constructor(private readonly options: ScalerOptions) {
    this.tuning = options.tuning ?? DEFAULT_TUNING;
  }

  /** Records this tick's samples and decides for every workload. */
  async tick(workloads: readonly WorkloadView[], samples: ReadonlyMap<WorkloadKey, ActivitySample>, now: number): Promise<void> {
    const present = new Set(workloads.map((workload) => workload.key));
    for (const key of this.memory.keys()) if (!present.has(key)) this.memory.delete(key);
    const underWay: Promise<void>[] = [];
    // One workload's failure is the tick's, reported once every workload has been decided.
    let failed: { error: unknown } | undefined;
    for (const workload of workloads) {
      const sample = samples.get(workload.key);
      if (sample) this.remember(workload.key).window.record(sample);
      try {
        const acting = this.serialized(workload.key, () => this.decideAndAct(workload, now));
        if (acting) underWay.push(acting);
      } catch (error) {
        failed ??= { error };
      }
    }
    await Promise.all(underWay);
    if (failed) throw failed.error;
  }

  /**
   * An agent holds a request for this workload: give it a replica now, not at the next tick. A
   * standby refuses (the agents retry, and the next try may reach the leader), and so does a
   * workload ebb must not scale; the server says which in its answer's status.
   */
  async wake(workload: WorkloadView, now: number): Promise<WakeOutcome> {
    if (!this.options.isLeader()) return { accepted: false, refusal: 'not-leader', reason: 'this controller replica is not the leader' };
    if (workload.settings.paused) return { accepted: false, refusal: 'paused', reason: `${workload.key} is paused (ebb.dev/paused)` };
    if (workload.hpa) return { accepted: false, refusal: 'hpa-present', reason: `${workload.key} is scaled by HorizontalPodAutoscaler ${workload.hpa}` };
    this.remember(workload.key).wakeRequestedAt = now;
    await this.serialized(workload.key, () => this.decideAndAct(workload, now));
    return { accepted: true };
  }

  private remember(key: WorkloadKey): WorkloadMemory {
    let memory = this.memory.get(key);
    if (!memory) {
      memory = { window: new ActivityWindow({ horizonMs: activityHorizonMs(this.tuning) }), state: INITIAL_DECIDER_STATE, trafficReported: new Set() };
      this.memory.set(key, memory);
    }
    return memory;
  }

  /**
   * A workload woken from zero that still has no Ready pod a minute later (a bad image, a crash, a
   * failing probe) will not serve the requests held for it: they end with 503 at their deadline.
   * Say so once, where the app team looks.
   */
  private reportWakeNotReady(workload: WorkloadView, replicas: number, memory: WorkloadMemory, now: number): void {
    if (memory.wokenAt === undefined) return;
    if (workload.readyReplicas > 0 || replicas === 0) {
      memory.wokenAt = undefined;
      memory.notReadyReported = false;
      return;
    }
    if (memory.notReadyReported || now - memory.wokenAt < WAKE_READY_WARNING_MS) return;
    memory.notReadyReported = true;
    this.options.effects.event(
      workload,
      'Warning',
      'WakeUpNotReady',
      `woken from zero ${Math.round((now - memory.wokenAt) / 1000)}s ago and no pod is Ready yet; requests held for it end with 503 at their deadline (check the pods: kubectl describe pods)`,
    );
  }

  /**
   * Traffic that goes around the interceptor keeps the workload up (the decider never calls it
   * idle); say once per cause why, and how to fix it. A cause that clears and comes back is told again.
   */
  private reportUnobservedTraffic(workload: WorkloadView, memory: WorkloadMemory): void {
    if (workload.unobservedTraffic.length === 0 && memory.trafficReported.size === 0) return;
    const untold = workload.unobservedTraffic.filter((cause) => !memory.trafficReported.has(cause));
    memory.trafficReported = new Set(workload.unobservedTraffic);
    for (const cause of untold) {
      this.options.effects.event(workload, 'Warning', 'TrafficNotObserved', `${cause}; until ebb sees this traffic, it keeps at least one replica`);
    }
  }

  /** Runs `work` now when nothing for the workload is under way, else after it; undefined when it finished synchronously. */
  private serialized(key: WorkloadKey, work: () => Promise<void> | undefined): Promise<void> | undefined {
    const previous = this.queues.get(key);
    const next = previous ? previous.then(work, work) : work();
    if (next === undefined) return undefined;
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }

  /**
   * Routes the workload's Services to the activators before its last pod goes: a workload at zero
   * that no request can reach would never be woken. False (and a Warning Event) when that fails.
   */
  private async activatorReady(workload: WorkloadView, current: number): Promise<boolean> {
    try {
      await this.options.effects.routeToActivator(workload, true);
      return true;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.options.effects.event(workload, 'Warning', 'ActivatorUnavailable', `staying at ${current} replicas rather than sleeping unreachable: ${reason}`);
      return false;
    }
  }

  /** Two autoscalers on one Deployment fight: with an HPA present ebb steps back, and says so once. */
  private steppedBackForHpa(workload: WorkloadView, memory: WorkloadMemory): boolean {
    if (!workload.hpa) {
      memory.hpaReported = undefined;
      return false;
    }
    if (memory.hpaReported !== workload.hpa) {
      memory.hpaReported = workload.hpa;
      this.options.effects.event(
        workload,
        'Warning',
        'HorizontalPodAutoscalerPresent',
        `HorizontalPodAutoscaler ${workload.hpa} scales this Deployment; ebb leaves its replicas alone while it exists`,
      );
    }
    return true;
  }

  private decideNow(workload: WorkloadView, memory: WorkloadMemory, current: number, now: number): Decision {
    const started = performance.now();
    const decision = decide({
      settings: workload.settings,
      currentReplicas: current,
      readyReplicas: workload.readyReplicas,
      activity: memory.window,
      now,
      state: memory.state,
      wake: memory.wakeRequestedAt !== undefined,
      trafficObserved: workload.unobservedTraffic.length === 0,
      surge: workload.surge,
      tuning: this.tuning,
    });
    memory.state = decision.state;
    memory.wakeRequestedAt = undefined;
    this.options.effects.decided?.(workload, decision, performance.now() - started);
    return decision;
  }

  private decideAndAct(workload: WorkloadView, now: number): Promise<void> | undefined {
    const memory = this.remember(workload.key);
    if (this.steppedBackForHpa(workload, memory) || !this.options.isLeader()) return undefined;
    this.reportUnobservedTraffic(workload, memory);
    // A wake-up decides from a fresh read: the cache may not show a scale-up made a moment ago.
    if (memory.wakeRequestedAt !== undefined) return this.decideFreshAndAct(workload, memory, now);
    return this.decideAndCarryOut(workload, memory, workload.replicas, now);
  }

  private async decideFreshAndAct(workload: WorkloadView, memory: WorkloadMemory, now: number): Promise<void> {
    const current = await this.options.target.read(workload.namespace, workload.name);
    await this.decideAndCarryOut(workload, memory, current, now);
  }

  /** Synchronous (undefined) when the decision needs no write, else the writes under way. */
  private decideAndCarryOut(workload: WorkloadView, memory: WorkloadMemory, current: number, now: number): Promise<void> | undefined {
    const decision = this.decideNow(workload, memory, current, now);
    const desired = decision.desiredReplicas;
    if (desired !== null && desired !== current) return this.scaleAndSettle(workload, memory, { from: current, to: desired }, decision, now);
    return this.settle(workload, memory, current, decision, now);
  }

  private async scaleAndSettle(
    workload: WorkloadView,
    memory: WorkloadMemory,
    change: { from: number; to: number },
    decision: Decision,
    now: number,
  ): Promise<void> {
    const { target, effects } = this.options;
    const { from: current, to: desired } = change;
    if (desired === 0 && current > 0 && !(await this.activatorReady(workload, current))) {
      effects.status(workload, decision, memory.window.lastRequestAt);
      return;
    }
    // Only from the count the decision started from: when someone else moved it since (or the
    // cache had not yet seen ebb's own last write), nothing is written and the next tick decides again.
    if ((await target.move(workload.namespace, workload.name, change)) === 'moved') return;
    effects.event(workload, 'Normal', desired === 0 ? 'ScaledToZero' : 'Scaled', decision.reason.message);
    if (current === 0 && desired > 0) memory.wokenAt = now;
    await this.settle(workload, memory, desired, decision, now);
  }

  /** After the count is settled: a wake-up still not Ready, where traffic goes, the status. */
  private settle(workload: WorkloadView, memory: WorkloadMemory, replicas: number, decision: Decision, now: number): Promise<void> | undefined {
    const { effects } = this.options;
    this.reportWakeNotReady(workload, replicas, memory, now);
    // Traffic goes to the activators while nothing can serve it: at zero, and after a wake-up
    // until a pod is Ready.
    const routing = effects.routeToActivator(workload, replicas === 0 || workload.readyReplicas === 0);
    if (routing) return routing.then(() => effects.status(workload, decision, memory.window.lastRequestAt));
    effects.status(workload, decision, memory.window.lastRequestAt);
    return undefined;
  }
}
