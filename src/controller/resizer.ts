// The leader's in-place resizer, run after each right-sizing round: for every opted-in workload
// whose mode acts on running pods (`in-place`, `evict`, `auto`) and that is not paused, it plans
// each pod against the published recommendation (src/core/resize/plan.ts), writes the resizes
// through `pods/resize` (the pods that need more first, at most MAX_IN_FLIGHT resizes under way
// in the cluster), offers the pods that must be replaced to the disruption manager (it never
// evicts), follows what the kubelets make of each resize, and reports: Events (Resized,
// ResizeInfeasible, ResizeDeferred on the pod; a Warning once on the Deployment when an HPA holds a
// resource), metrics, and what is pending per workload for the status.

import type { V2MetricSpec } from '@kubernetes/client-node';
import type { ResourceName } from '../core/pod-resources.ts';
import { requestBoundResources } from '../core/resize/autoscaler.ts';
import { retryDelayMs } from '../core/resize/backoff.ts';
import { planResize, type ContainerResize, type NodeVerdict, type ResizeDecision } from '../core/resize/plan.ts';
import { resizeState } from '../core/resize/resize-state.ts';
import type { SlimPod } from '../core/resize/slim-pod.ts';
import { targetsFrom } from '../core/resize/targets.ts';
import type { StatusRecommendation } from '../core/recommendation.ts';
import type { EventTarget, EventType } from '../kube/events.ts';
import type { ResizeWrite } from '../kube/pod-resize.ts';
import type { WorkloadKey } from '../protocol/workload.ts';
import type { DisruptionCandidate, DisruptionQueue } from './disruption.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { Workload } from './workloads.ts';

// Each in-place resize makes a kubelet re-admit a pod and rewrite cgroups; a recommendation that
// moves for a thousand workloads at once should not become ten thousand of those in one round.
export const MAX_IN_FLIGHT = 20;

export interface ResizerOptions {
  isLeader(): boolean;
  /** The opted-in workloads, from the caches. */
  workloads(): readonly Workload[];
  podsOf(workload: WorkloadKey): readonly SlimPod[];
  /** The recommendation the status carries for the workload. */
  recommendation(workload: WorkloadKey): StatusRecommendation | undefined;
  /** The metrics of the Deployment's HPA (undefined: its default), if it has one. */
  autoscaler(namespace: string, deployment: string): { name: string; metrics: readonly V2MetricSpec[] | undefined } | undefined;
  policy(): { tolerance: number; deferredTimeoutMs: number; dryRun: boolean };
  /** Whether the API server lets a resize lower a memory limit. */
  allowsMemoryLimitDecrease(): Promise<boolean>;
  resize(pod: SlimPod, containers: readonly ContainerResize[]): Promise<ResizeWrite>;
  disruptions: DisruptionQueue;
  metrics: ControllerMetrics;
  event(target: EventTarget, type: EventType, reason: string, message: string): Promise<void>;
  log(level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void;
  maxInFlight?: number;
}

const WAIT_STATES = ['in-flight', 'deferred', 'error', 'backoff', 'queued', 'eviction', 'reported', 'dry-run'] as const;
type WaitingState = (typeof WAIT_STATES)[number];

const podTarget = (pod: SlimPod): EventTarget => ({ kind: 'Pod', apiVersion: 'v1', namespace: pod.namespace, name: pod.name, uid: pod.uid });
const deploymentTarget = (workload: Workload): EventTarget => ({
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  namespace: workload.deployment.metadata?.namespace ?? '',
  name: workload.deployment.metadata?.name ?? '',
  uid: workload.deployment.metadata?.uid,
});

interface Planned {
  workload: Workload;
  pod: SlimPod;
  decision: ResizeDecision;
}

type Resize = Planned & { decision: Extract<ResizeDecision, { action: 'resize' }> };

/** A pod the resizer holds back after failures: how many in a row, until when, and the generation the last one was about. */
interface HoldBack {
  attempt: number;
  until: number;
  generation: number;
}

/** What one round leaves waiting: a line per pod for the status, a count per state for the gauge. */
class Waiting {
  readonly lines = new Map<WorkloadKey, string[]>();
  readonly counts = new Map<WaitingState, number>(WAIT_STATES.map((state) => [state, 0]));

  note({ workload, pod }: Planned, state: WaitingState, text: string): void {
    this.counts.set(state, this.counts.get(state)! + 1);
    const lines = this.lines.get(workload.key) ?? [];
    lines.push(`${pod.name}: ${text}`);
    this.lines.set(workload.key, lines);
  }
}

export class Resizer {
  private allowsMemoryLimitDecrease: boolean | undefined;
  /** Pod uid → the changes written, until the node has applied them. */
  private readonly written = new Map<string, string>();
  private readonly holdBack = new Map<string, HoldBack>();
  /** Pod uid → what was last said about it (an Event, a log line): each is said once. */
  private readonly said = new Map<string, string>();
  /** Workload → the HPA conflict last warned about. */
  private readonly autoscalerWarned = new Map<WorkloadKey, string>();
  private pending = new Map<WorkloadKey, string[]>();

  constructor(private readonly options: ResizerOptions) {}

  /** What waits for the workload's pods, one line per pod, for the status. */
  pendingFor(workload: WorkloadKey): string[] {
    return this.pending.get(workload) ?? [];
  }

  async round(now: number): Promise<void> {
    const { options } = this;
    if (!options.isLeader()) {
      if (this.pending.size > 0 || this.said.size > 0) this.forgetAll();
      return;
    }
    const policy = options.policy();
    const planned = this.plan(now, policy, await this.memoryLimitDecrease());
    const waiting = new Waiting();
    const candidates: DisruptionCandidate[] = [];
    const resizes: Resize[] = [];
    let inFlight = 0;
    for (const entry of planned) {
      const { decision } = entry;
      if (decision.action === 'resize') resizes.push({ ...entry, decision });
      else if (decision.action === 'evict') candidates.push(this.offered(entry, decision, waiting));
      else if (decision.action === 'report') this.reported(entry, decision, waiting);
      else if (decision.action === 'wait') {
        if (decision.state === 'in-flight') inFlight++;
        waiting.note(entry, decision.state, decision.state === 'in-flight' ? `resizing: ${this.written.get(entry.pod.uid) ?? decision.why}` : decision.why);
      }
    }

    // The pods that need more go first; the rest wait for the resizes in flight to land.
    resizes.sort((a, b) => b.decision.priority - a.decision.priority);
    const room = Math.max(0, (options.maxInFlight ?? MAX_IN_FLIGHT) - inFlight);
    // No count in the line: it goes into the workload's status, which a changing figure would
    // rewrite every round for every queued workload (bench:resize: 25 status writes per workload).
    const limit = options.maxInFlight ?? MAX_IN_FLIGHT;
    for (const entry of resizes.slice(room)) waiting.note(entry, 'queued', `queued: at most ${limit} resizes in flight at a time: ${entry.decision.why}`);
    const writable = resizes.slice(0, room);
    if (policy.dryRun) {
      for (const entry of writable) {
        waiting.note(entry, 'dry-run', `dry run: would resize: ${entry.decision.why}`);
        this.sayOnce(entry.pod, `dry-run/${entry.decision.why}`, () =>
          options.log('info', `dry run: would resize pod ${entry.pod.namespace}/${entry.pod.name}: ${entry.decision.why}`),
        );
      }
    } else {
      await Promise.all(writable.map((entry) => this.write(entry, now, waiting)));
    }

    candidates.sort((a, b) => b.priority - a.priority);
    options.disruptions.offer('resize', candidates);
    for (const [state, count] of waiting.counts) options.metrics.resizeWaiting.set({ state }, count);
    this.pending = waiting.lines;
  }

  /** Every pod of the workloads whose mode acts on running pods, planned; what became of earlier resizes followed first. */
  private plan(now: number, policy: ReturnType<ResizerOptions['policy']>, memoryLimitDecrease: boolean): Planned[] {
    const planned: Planned[] = [];
    const seen = new Set<string>();
    for (const workload of this.options.workloads()) {
      const mode = workload.settings.sizing.resize;
      if (mode === 'off' || mode === 'initial' || workload.settings.scaling.paused) continue;
      const status = this.options.recommendation(workload.key);
      if (!status) continue;
      const targets = targetsFrom(status);
      const held = this.held(workload);
      for (const pod of this.options.podsOf(workload.key)) {
        seen.add(pod.uid);
        this.follow(pod, now);
        const retryAt = this.holdBack.get(pod.uid)?.until;
        const input = { pod, targets, mode, tolerance: policy.tolerance, held, memoryLimitDecrease, deferredTimeoutMs: policy.deferredTimeoutMs, now };
        const decision = planResize(retryAt === undefined ? input : { ...input, retryAt });
        if (decision.action === 'none') this.holdBack.delete(pod.uid);
        planned.push({ workload, pod, decision });
      }
    }
    for (const uid of [...this.written.keys(), ...this.holdBack.keys(), ...this.said.keys()]) {
      if (!seen.has(uid)) this.forgetPod(uid);
    }
    return planned;
  }

  /** A pod the node refused or held back past the timeout in mode in-place: said once per generation. */
  private reported(entry: Planned, decision: Extract<ResizeDecision, { action: 'report' }>, waiting: Waiting): void {
    const { pod } = entry;
    waiting.note(entry, 'reported', decision.why);
    this.sayOnce(pod, `${pod.generation}/${decision.reason}`, () => {
      this.countVerdict(decision.reason);
      this.podEvent(pod, 'Warning', decision.reason, `${decision.why}; ebb leaves the pod as it is (resize mode in-place)`);
    });
  }

  /** A pod to replace: offered every round (the offer replaces the last), said once. */
  private offered(entry: Planned, decision: Extract<ResizeDecision, { action: 'evict' }>, waiting: Waiting): DisruptionCandidate {
    const { pod, workload } = entry;
    waiting.note(entry, 'eviction', `offered for eviction: ${decision.why}`);
    this.sayOnce(pod, `evict/${decision.why}`, () => {
      this.options.metrics.resizes.inc({ outcome: 'offered' });
      this.options.log('info', `offered pod ${pod.namespace}/${pod.name} for eviction: ${decision.why}`, { workload: workload.key });
      if (decision.reason) {
        this.countVerdict(decision.reason);
        this.podEvent(pod, 'Warning', decision.reason, `${decision.why}; offered for eviction (resize mode auto)`);
      }
    });
    return { workload: workload.key, pod: `${pod.namespace}/${pod.name}`, podUid: pod.uid, source: 'resize', priority: decision.priority, why: decision.why };
  }

  private countVerdict(reason: NodeVerdict): void {
    this.options.metrics.resizes.inc({ outcome: reason === 'ResizeInfeasible' ? 'infeasible' : 'deferred' });
  }

  private async write(entry: Resize, now: number, waiting: Waiting): Promise<void> {
    const { pod, decision } = entry;
    const { options } = this;
    let result: ResizeWrite | { outcome: 'failed'; message: string };
    try {
      result = await options.resize(pod, decision.containers);
    } catch (error) {
      result = { outcome: 'failed', message: error instanceof Error ? error.message : String(error) };
    }
    // A pod gone since the cache saw it is a conflict too: the next round plans from what is.
    options.metrics.resizes.inc({ outcome: result.outcome === 'gone' ? 'conflict' : result.outcome });
    switch (result.outcome) {
      case 'written':
        this.written.set(pod.uid, decision.why);
        waiting.note(entry, 'in-flight', `resizing: ${decision.why}`);
        this.podEvent(pod, 'Normal', 'Resized', decision.why);
        options.log('info', `resized pod ${pod.namespace}/${pod.name}: ${decision.why}`, { workload: entry.workload.key });
        return;
      case 'refused':
      case 'failed': {
        const attempt = (this.holdBack.get(pod.uid)?.attempt ?? 0) + 1;
        this.holdBack.set(pod.uid, { attempt, until: now + retryDelayMs(attempt), generation: pod.generation });
        waiting.note(entry, 'backoff', `resize ${result.outcome} (${result.message}); ebb tries again in ${retryDelayMs(attempt) / 1000} s`);
        options.log('warn', `resize of pod ${pod.namespace}/${pod.name} ${result.outcome}: ${result.message}`, { workload: entry.workload.key, attempt });
        return;
      }
      case 'conflict':
      case 'gone':
        return;
    }
  }

  /** Follows what became of the resizes written: applied, or failed on the node (tried again after a backoff). */
  private follow(pod: SlimPod, now: number): void {
    const state = resizeState(pod);
    if (state.kind === 'settled' && this.written.delete(pod.uid)) {
      this.options.metrics.resizes.inc({ outcome: 'applied' });
      this.holdBack.delete(pod.uid);
    }
    if (state.kind !== 'error') return;
    // resizeState reports an Error only about the current generation: one failure per generation.
    const previous = this.holdBack.get(pod.uid);
    if (previous?.generation === pod.generation) return;
    this.written.delete(pod.uid);
    const attempt = (previous?.attempt ?? 0) + 1;
    this.holdBack.set(pod.uid, { attempt, until: now + retryDelayMs(attempt), generation: pod.generation });
    this.options.metrics.resizes.inc({ outcome: 'error' });
    this.options.log(
      'warn',
      `the kubelet failed to resize pod ${pod.namespace}/${pod.name} (${state.message}); ebb plans it again in ${retryDelayMs(attempt) / 1000} s`,
      { attempt },
    );
  }

  /** The resources an HPA of the workload scales on, warned about once per HPA and set of resources. */
  private held(workload: Workload): ReadonlySet<ResourceName> {
    const namespace = workload.deployment.metadata?.namespace ?? '';
    const name = workload.deployment.metadata?.name ?? '';
    const hpa = this.options.autoscaler(namespace, name);
    const resources = hpa ? requestBoundResources(hpa.metrics) : [];
    const conflict = hpa && resources.length > 0 ? `${hpa.name}/${resources.join(',')}` : '';
    if (conflict !== (this.autoscalerWarned.get(workload.key) ?? '')) {
      this.autoscalerWarned.set(workload.key, conflict);
      if (hpa && conflict) {
        const what = resources.join(' and ');
        const message = `HorizontalPodAutoscaler ${hpa.name} scales this Deployment on ${what} utilization, which is relative to the requests: ebb leaves the ${what} requests of its running pods as they are`;
        void this.options
          .event(deploymentTarget(workload), 'Warning', 'ResizeConflictsWithHPA', message)
          .catch((error: unknown) => this.options.log('warn', `event: ${String(error)}`));
      }
    }
    return new Set(resources);
  }

  private async memoryLimitDecrease(): Promise<boolean> {
    if (this.allowsMemoryLimitDecrease === undefined) {
      try {
        this.allowsMemoryLimitDecrease = await this.options.allowsMemoryLimitDecrease();
      } catch (error) {
        // Until the server says, assume the stricter rule: the planner then keeps memory limits.
        this.options.log('warn', `API server version: ${error instanceof Error ? error.message : String(error)}`);
        return false;
      }
    }
    return this.allowsMemoryLimitDecrease;
  }

  private sayOnce(pod: SlimPod, what: string, say: () => void): void {
    if (this.said.get(pod.uid) === what) return;
    this.said.set(pod.uid, what);
    say();
  }

  private podEvent(pod: SlimPod, type: EventType, reason: string, message: string): void {
    void this.options.event(podTarget(pod), type, reason, message).catch((error: unknown) => this.options.log('warn', `event: ${String(error)}`));
  }

  private forgetPod(uid: string): void {
    this.written.delete(uid);
    this.holdBack.delete(uid);
    this.said.delete(uid);
  }

  /** A replica that stops leading forgets, and withdraws what it offered. */
  private forgetAll(): void {
    this.written.clear();
    this.holdBack.clear();
    this.said.clear();
    this.autoscalerWarned.clear();
    this.pending = new Map();
    this.options.disruptions.offer('resize', []);
  }
}
