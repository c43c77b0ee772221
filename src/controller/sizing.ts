// The right-sizing loop of the leader: every usage interval it pulls the agents' usage reports,
// feeds the recommender, publishes each workload's recommendation (metrics now, the status
// annotation through the scaler's status write, an Event when a target moves by more than the
// policy's tolerance) and checkpoints the recommender's state (checkpoints.ts: in shards, each
// written at most once per checkpoint interval). A replica that becomes leader first restores
// every checkpoint, so a failover loses at most one checkpoint interval; it feeds nothing before
// that, so it never overwrites a checkpoint with less than it holds.

import {
  movedContainers,
  recommendationFromStatus,
  statusRecommendation,
  targetsOf,
  type Recommendation,
  type StatusRecommendation,
} from '../core/recommendation.ts';
import type { ContainerRecommendation, SizingConfig } from '../core/recommender/index.ts';
import { WorkloadRecommender } from '../core/sizing/workload-recommender.ts';
import { STATUS_ANNOTATION } from '../core/annotations.ts';
import { compareWithStatus } from '../core/status.ts';
import { formatCpu, formatMemory, parseCpu, parseMemory } from '../core/quantity.ts';
import type { Result } from '../core/result.ts';
import type { OomKill, UsageReport } from '../protocol/usage.ts';
import type { WorkloadKey } from '../protocol/workload.ts';
import type { Collected } from './agents.ts';
import { SizingCheckpoints, type CheckpointStorage } from './checkpoints.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { Gauge } from 'prom-client';
import { TimeSlices, type TickGate } from './time-slices.ts';
import type { Workload } from './workloads.ts';

export interface SizingLoopOptions {
  /** The scaling tick, which the round steps aside for (time-slices.ts). */
  tickGate?: TickGate;
  isLeader(): boolean;
  collect(): Promise<Collected<UsageReport>>;
  /** The opted-in workloads, from the caches. */
  workloads(): readonly Workload[];
  /** Whether the Deployment still exists: a workload keeps its history (asleep, or opted out for a while) until it is deleted. */
  exists(workload: WorkloadKey): boolean;
  config(): SizingConfig;
  store: CheckpointStorage;
  checkpointIntervalMs: number;
  metrics: ControllerMetrics;
  event(workload: Workload, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
  log(level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void;
}

export class SizingLoop {
  private readonly recommender = new WorkloadRecommender();
  private restored = false;
  private readonly published = new Map<WorkloadKey, StatusRecommendation>();
  /** The targets each workload's last RecommendationChanged Event reported. */
  private readonly announced = new Map<WorkloadKey, Recommendation>();
  /** `workload/container` warned about OOM kills at its memory maximum, until it is no longer capped. */
  private readonly cappedWarned = new Set<string>();
  private readonly checkpoints: SizingCheckpoints;
  /** The figures each `workload/container`'s gauges were last set to (setGauges). */
  private readonly gaugesSetTo = new Map<string, readonly unknown[]>();

  constructor(private readonly options: SizingLoopOptions) {
    this.checkpoints = new SizingCheckpoints({
      store: options.store,
      intervalMs: options.checkpointIntervalMs,
      metrics: options.metrics,
      tickGate: options.tickGate,
      log: (level, msg) => options.log(level, msg),
    });
  }

  /** The recommendation to write into the workload's status, once it has one. */
  statusRecommendation(workload: WorkloadKey): StatusRecommendation | undefined {
    return this.published.get(workload);
  }

  async round(now: number): Promise<void> {
    const { options } = this;
    if (!options.isLeader()) {
      if (this.restored) this.forgetAll();
      return;
    }
    if (!this.restored) await this.restore();

    const workloads = new Map(options.workloads().map((workload) => [workload.key, workload]));
    const config = options.config();
    await this.feed(workloads, config, now);

    for (const gone of this.recommender.retain((key) => options.exists(key))) this.forget(gone);
    // A round for 1,000 workloads is 50-75 ms of work (two containers each): the ticks must not wait behind all of it.
    const slices = new TimeSlices(options.tickGate);
    for (const workload of workloads.values()) {
      this.publish(workload, now, config.tolerance);
      await slices.next();
    }
    await this.checkpoints.write(this.recommender, now);
  }

  /**
   * Pulls the agents' usage reports and feeds them to the recommender. Its own call, so that the
   * reports (megabytes at 10,000 pods) are garbage once fed, not held through the rest of the round.
   */
  private async feed(workloads: ReadonlyMap<WorkloadKey, Workload>, config: SizingConfig, now: number): Promise<void> {
    const { options } = this;
    const collected = await options.collect();
    for (const failure of collected.failures) {
      options.metrics.agentScrapeFailures.inc({ agent: failure.url, report: 'usage' });
      options.log('warn', `agent ${failure.url}: ${failure.error}`);
    }
    const kills = this.recommender.ingest(collected.reports, (key) => workloads.has(key), config, now);
    for (const kill of kills) this.reportKill(workloads.get(kill.workload)!, kill);
  }

  private async restore(): Promise<void> {
    const restored = await this.checkpoints.restore(this.recommender, this.options.config());
    this.restored = true;
    this.options.log('info', `recommender restored ${restored} workload checkpoints`);
  }

  private publish(workload: Workload, now: number, tolerance: number): void {
    const { sizing } = workload.settings;
    const recommendations = this.recommender.recommend(workload.key, sizing, now);
    if (recommendations.size === 0) return;
    const status = statusRecommendation(recommendations);
    this.published.set(workload.key, status);
    const annotation = workload.deployment.metadata?.annotations?.[STATUS_ANNOTATION];
    compareWithStatus(annotation, status, tolerance);
    this.setGauges(workload, recommendations);

    const targets = targetsOf(status.containers) ?? {};
    // What the status says was announced, by this leader or the one before it: a new leader does
    // not announce every workload's recommendation again (1,000 Events at 1,000 workloads).
    const previous = this.announced.get(workload.key) ?? this.announcedInStatus(workload.key, annotation);
    const moved = movedContainers(previous, targets, tolerance);
    if (moved.length > 0) {
      this.announced.set(workload.key, targets);
      const figures = moved.map((name) => describeMove(name, previous?.[name], recommendations.get(name)!)).join('; ');
      void this.options
        .event(workload, 'Normal', 'RecommendationChanged', figures)
        .catch((error: unknown) => this.options.log('warn', `event: ${String(error)}`));
    }
    for (const [container, recommendation] of recommendations) {
      const key = `${workload.key}/${container}`;
      if (!recommendation.oomAtMemoryMax) {
        this.cappedWarned.delete(key);
        continue;
      }
      if (this.cappedWarned.has(key)) continue;
      this.cappedWarned.add(key);
      const max = sizing.memoryMaxBytes !== undefined ? formatMemory(sizing.memoryMaxBytes) : 'its maximum';
      const message = `container ${container} was OOM-killed with its memory recommendation at ebb.dev/memory-max (${max}); raise memory-max or lower the container's memory use`;
      void this.options.event(workload, 'Warning', 'OOMAtMemoryMax', message).catch((error: unknown) => this.options.log('warn', `event: ${String(error)}`));
    }
  }

  /** The recommendation a status annotation holds, remembered as announced. */
  private announcedInStatus(key: WorkloadKey, annotation: string | undefined): Recommendation | undefined {
    const announced = recommendationFromStatus(annotation);
    if (announced) this.announced.set(key, announced);
    return announced;
  }

  private reportKill(workload: Workload, kill: OomKill): void {
    this.options.metrics.oomKills.inc({
      namespace: workload.deployment.metadata?.namespace ?? '',
      deployment: workload.deployment.metadata?.name ?? '',
      container: kill.container,
    });
    const limit = kill.memoryLimitBytes !== undefined ? formatMemory(kill.memoryLimitBytes) : 'none';
    const request = kill.memoryRequestBytes !== undefined ? formatMemory(kill.memoryRequestBytes) : 'none';
    const message = `container ${kill.container} of pod ${kill.pod} was OOM-killed (memory request ${request}, limit ${limit}, restart ${kill.restartCount}); its memory recommendation rises`;
    this.options.log('warn', message, { workload: workload.key });
    void this.options.event(workload, 'Warning', 'OOMKilled', message).catch((error: unknown) => this.options.log('warn', `event: ${String(error)}`));
  }

  private setGauges(workload: Workload, recommendations: ReadonlyMap<string, ContainerRecommendation>): void {
    const { target, lower, upper, confidence, templateRequests } = this.options.metrics.recommendation;
    const namespace = workload.deployment.metadata?.namespace ?? '';
    const deployment = workload.deployment.metadata?.name ?? '';
    const templateContainers = workload.deployment.spec?.template.spec?.containers ?? [];
    for (const [container, r] of recommendations) {
      const cpu = { namespace, deployment, container, resource: 'cpu' };
      const memory = { namespace, deployment, container, resource: 'memory' };
      const requests = templateContainers.find((candidate) => candidate.name === container)?.resources?.requests ?? {};
      // Each series a label lookup: set again only when its figure moved. Every round makes a new
      // recommendation, but once the history is long enough most of its figures stay.
      const series: readonly (readonly [figure: unknown, set: () => void])[] = [
        [requests.cpu, () => setRequest(templateRequests, cpu, requests.cpu, parseCpu, 1000)],
        [requests.memory, () => setRequest(templateRequests, memory, requests.memory, parseMemory, 1)],
        [r.cpu.targetMillis, () => target.set(cpu, r.cpu.targetMillis / 1000)],
        [r.cpu.lowerMillis, () => lower.set(cpu, r.cpu.lowerMillis / 1000)],
        [r.cpu.upperMillis, () => upper.set(cpu, r.cpu.upperMillis / 1000)],
        [r.memory.targetBytes, () => target.set(memory, r.memory.targetBytes)],
        [r.memory.lowerBytes, () => lower.set(memory, r.memory.lowerBytes)],
        [r.memory.upperBytes, () => upper.set(memory, r.memory.upperBytes)],
        [r.confidence, () => confidence.set({ namespace, deployment, container }, r.confidence)],
      ];
      const key = `${workload.key}/${container}`;
      const before = this.gaugesSetTo.get(key);
      series.forEach(([figure, set], index) => {
        if (before?.[index] !== figure) set();
      });
      this.gaugesSetTo.set(
        key,
        series.map(([figure]) => figure),
      );
    }
  }

  private forget(workload: WorkloadKey): void {
    const [namespace, deployment] = workload.split('/');
    const { target, lower, upper, confidence, templateRequests } = this.options.metrics.recommendation;
    for (const container of Object.keys(this.published.get(workload)?.containers ?? {})) {
      for (const resource of ['cpu', 'memory'])
        for (const gauge of [target, lower, upper, templateRequests]) gauge.remove({ namespace, deployment, container, resource });
      confidence.remove({ namespace, deployment, container });
      this.gaugesSetTo.delete(`${workload}/${container}`);
    }
    this.published.delete(workload);
    this.announced.delete(workload);
    for (const key of this.cappedWarned) if (key.startsWith(`${workload}/`)) this.cappedWarned.delete(key);
  }

  /** A replica that stops leading forgets: the next leader's checkpoints are the truth when it leads again. */
  private forgetAll(): void {
    this.recommender.clear();
    this.published.clear();
    this.gaugesSetTo.clear();
    this.announced.clear();
    this.checkpoints.clear();
    this.cappedWarned.clear();
    this.restored = false;
  }
}

function describeMove(container: string, before: { cpuMillis?: number; memoryBytes?: number } | undefined, after: ContainerRecommendation): string {
  const from = (amount: number | undefined, format: (n: number) => string) => (amount === undefined ? '' : `${format(amount)} → `);
  return (
    `${container}: cpu ${from(before?.cpuMillis, formatCpu)}${formatCpu(after.cpu.targetMillis)} ` +
    `(${formatCpu(after.cpu.lowerMillis)}–${formatCpu(after.cpu.upperMillis)}), ` +
    `memory ${from(before?.memoryBytes, formatMemory)}${formatMemory(after.memory.targetBytes)} ` +
    `(${formatMemory(after.memory.lowerBytes)}–${formatMemory(after.memory.upperBytes)}), confidence ${after.confidence.toFixed(2)}`
  );
}

/**
 * The template's request in base units (per `unitsPerBase` of the parsed figure); no series for a
 * container without one or with one the API server would not have accepted.
 */
function setRequest(
  gauge: Gauge,
  labels: Record<string, string>,
  quantity: string | undefined,
  parse: (text: string) => Result<number>,
  unitsPerBase: number,
): void {
  const parsed = quantity === undefined ? undefined : parse(quantity);
  if (parsed?.ok) gauge.set(labels, parsed.value / unitsPerBase);
  else gauge.remove(labels);
}
