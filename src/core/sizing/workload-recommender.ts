// The recommender for every opted-in workload: one model per workload and container name, fed by
// the agents' usage reports. Pods of a workload share their containers' models (as the VPA
// aggregates a controller's pods), so a recommendation covers every replica that ran.
// The agents are pulled more often than their kubelets are scraped, and an OOM kill stays in an
// agent's report for minutes: both are de-duplicated here, so each sample and each kill counts once.
// Pure: no I/O, time passed in.

import type { Result } from '../result.ts';
import { ContainerModel, type ContainerRecommendation, type ResourceBounds, type SizingConfig } from '../recommender/index.ts';
import type { ContainerUsage, OomKill, UsageReport } from '../../protocol/usage.ts';
import type { WorkloadKey } from '../../protocol/workload.ts';

/** What the leader stores per workload so a restart or a failover resumes where it was. */
export interface WorkloadCheckpoint {
  v: 1;
  workload: WorkloadKey;
  /** Epoch ms of the newest sample in it. */
  newestSampleAt: number | null;
  containers: Record<string, unknown>;
}

/** How long a sample's or a kill's identity is remembered: longer than an agent reports it. */
const REMEMBER_MS = 15 * 60_000;

export class WorkloadRecommender {
  private readonly models = new Map<WorkloadKey, Map<string, ContainerModel>>();
  /** Pod → container → `at` of the newest sample fed from it. */
  private readonly fedUntil = new Map<string, Map<string, number>>();
  /** `pod/container/restartCount` → when the kill was first seen. */
  private readonly killsSeen = new Map<string, number>();
  private readonly newestSample = new Map<WorkloadKey, number>();

  /**
   * Feeds the samples not fed before, oldest first, for the workloads in `known` (others are not
   * opted in, or not yet in the caches). Returns the OOM kills seen for the first time.
   */
  ingest(reports: readonly UsageReport[], known: (workload: WorkloadKey) => boolean, config: SizingConfig, now: number): OomKill[] {
    // The fresh samples, by workload and container: each model takes its own samples in time order
    // (pods on different nodes are scraped at different moments). Batches rather than one sort of
    // every sample: 20,000 samples a round at 10,000 pods, where the sort and a string key per
    // sample made ingesting cost about 100 ms a round.
    const batches = new Map<WorkloadKey, Map<string, ContainerUsage[]>>();
    for (const report of reports) {
      for (const pod of report.pods) {
        if (!known(pod.workload)) continue;
        let fed = this.fedUntil.get(pod.pod);
        if (!fed) this.fedUntil.set(pod.pod, (fed = new Map<string, number>()));
        let batch = batches.get(pod.workload);
        if (!batch) batches.set(pod.workload, (batch = new Map<string, ContainerUsage[]>()));
        for (const usage of pod.containers) {
          if (usage.at <= (fed.get(usage.container) ?? -Infinity)) continue;
          fed.set(usage.container, usage.at);
          const samples = batch.get(usage.container);
          if (samples) samples.push(usage);
          else batch.set(usage.container, [usage]);
        }
      }
    }
    for (const [workload, containers] of batches) {
      let newest = this.newestSample.get(workload) ?? -Infinity;
      for (const [container, samples] of containers) {
        samples.sort((a, b) => a.at - b.at);
        const model = this.model(workload, container, config, samples[0]!.at);
        for (const sample of samples) model.addSample(sample);
        newest = Math.max(newest, samples.at(-1)!.at);
      }
      if (newest > -Infinity) this.newestSample.set(workload, newest);
    }

    const kills: OomKill[] = [];
    for (const kill of reports.flatMap((report) => report.ooms)) {
      const key = `${kill.pod}/${kill.container}/${kill.restartCount}`;
      if (!known(kill.workload) || this.killsSeen.has(key)) continue;
      this.killsSeen.set(key, now);
      this.model(kill.workload, kill.container, config, kill.at).addOom(kill);
      kills.push(kill);
    }
    this.forgetOlderThan(now - REMEMBER_MS);
    return kills;
  }

  /** By container name; empty until the workload has a sample. */
  recommend(workload: WorkloadKey, bounds: ResourceBounds, now: number): Map<string, ContainerRecommendation> {
    const recommendations = new Map<string, ContainerRecommendation>();
    for (const [container, model] of this.models.get(workload) ?? []) {
      const recommendation = model.recommend(now, bounds);
      if (recommendation) recommendations.set(container, recommendation);
    }
    return recommendations;
  }

  workloads(): WorkloadKey[] {
    return [...this.models.keys()];
  }

  /** Containers modelled, across every workload. */
  containerCount(): number {
    let count = 0;
    for (const models of this.models.values()) count += models.size;
    return count;
  }

  newestSampleAt(workload: WorkloadKey): number | null {
    return this.newestSample.get(workload) ?? null;
  }

  checkpoint(workload: WorkloadKey): WorkloadCheckpoint | undefined {
    const models = this.models.get(workload);
    if (!models) return undefined;
    const containers: Record<string, unknown> = {};
    for (const [name, model] of models) containers[name] = model.toCheckpoint();
    return { v: 1, workload, newestSampleAt: this.newestSampleAt(workload), containers };
  }

  /** Replaces what is known of the checkpoint's workload with it; the whole checkpoint or nothing. */
  restore(checkpoint: unknown, config: SizingConfig): Result<WorkloadKey> {
    if (typeof checkpoint !== 'object' || checkpoint === null) return { ok: false, error: 'a checkpoint must be a JSON object' };
    const { v, workload, newestSampleAt, containers } = checkpoint as Partial<WorkloadCheckpoint>;
    if (v !== 1) return { ok: false, error: `checkpoint version ${JSON.stringify(v)} is not accepted: expected 1` };
    if (typeof workload !== 'string' || !workload.includes('/'))
      return { ok: false, error: `checkpoint workload ${JSON.stringify(workload)} is not accepted: expected namespace/name` };
    if (typeof containers !== 'object' || containers === null) return { ok: false, error: `checkpoint of ${workload} has no containers object` };
    const models = new Map<string, ContainerModel>();
    for (const [name, value] of Object.entries(containers)) {
      const model = ContainerModel.fromCheckpoint(value, config);
      if (!model.ok) return { ok: false, error: `checkpoint of ${workload}, container ${name}: ${model.error}` };
      models.set(name, model.value);
    }
    this.models.set(workload, models);
    if (typeof newestSampleAt === 'number') this.newestSample.set(workload, newestSampleAt);
    return { ok: true, value: workload };
  }

  /** Forgets the workloads that no longer exist (a sleeping workload still exists and keeps its history). */
  retain(exists: (workload: WorkloadKey) => boolean): WorkloadKey[] {
    const gone = [...this.models.keys()].filter((workload) => !exists(workload));
    for (const workload of gone) {
      this.models.delete(workload);
      this.newestSample.delete(workload);
    }
    return gone;
  }

  clear(): void {
    this.models.clear();
    this.fedUntil.clear();
    this.killsSeen.clear();
    this.newestSample.clear();
  }

  private model(workload: WorkloadKey, container: string, config: SizingConfig, firstSeenAt: number): ContainerModel {
    let models = this.models.get(workload);
    if (!models) this.models.set(workload, (models = new Map<string, ContainerModel>()));
    let model = models.get(container);
    if (!model) models.set(container, (model = new ContainerModel(config, firstSeenAt)));
    return model;
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [pod, containers] of this.fedUntil) {
      for (const [container, at] of containers) if (at < cutoff) containers.delete(container);
      if (containers.size === 0) this.fedUntil.delete(pod);
    }
    for (const [key, at] of this.killsSeen) if (at < cutoff) this.killsSeen.delete(key);
  }
}
