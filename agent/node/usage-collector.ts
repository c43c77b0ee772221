// The usage signal for right-sizing: every interval, this node's kubelet resource metrics for the
// containers of the opted-in pods here (CPU rate and working set, src/core/usage), and the OOM
// kills in those pods' statuses. Served as GET /usage. A failed scrape marks the report stale and
// keeps the last figures: missing data must read as missing, never as a container using nothing.

import type { V1Pod } from '@kubernetes/client-node';
import type { CpuHistory } from '../../src/core/usage/cpu-rate.ts';
import { injectedWorkload } from '../../src/core/usage/injected-workload.ts';
import { containerReadings } from '../../src/core/usage/kubelet-resource.ts';
import { recordOomKills, reportedOomKills, type WorkloadPod } from '../../src/core/usage/oom-kills.ts';
import { stepUsage } from '../../src/core/usage/pod-usage.ts';
import { parsePrometheusText } from '../../src/core/usage/prometheus-text.ts';
import type { OomKill, PodUsage, UsageReport } from '../../src/protocol/usage.ts';
import type { Log } from '../../src/program/log.ts';
import type { Clock } from './clock.ts';
import { Rounds } from './rounds.ts';

export interface UsageSources {
  /** The pods bound to this node (the agent's pod informer). */
  pods(): readonly V1Pod[];
  /** The kubelet's /metrics/resource text. */
  scrape(): Promise<string>;
}

export interface UsageCollectorOptions {
  node: string;
  intervalMs: number;
  clock: Clock;
  onScrapeFailure?: () => void;
  log: Log;
}

export class UsageCollector extends Rounds {
  private histories: ReadonlyMap<string, CpuHistory> = new Map();
  private pods: PodUsage[] = [];
  private ooms: ReadonlyMap<string, OomKill> = new Map();
  private scrapedAt: number | null = null;
  private error: string | undefined;

  constructor(
    private readonly sources: UsageSources,
    private readonly options: UsageCollectorOptions,
  ) {
    super(options.intervalMs);
  }

  protected round(): Promise<void> {
    return this.collect();
  }

  /** One round: the OOM kills in the pods' statuses, then the kubelet's figures. */
  async collect(): Promise<void> {
    const workloadPods = this.workloadPods();
    this.ooms = recordOomKills(this.ooms, workloadPods, this.options.clock.epochMs());
    try {
      const text = await this.sources.scrape();
      const scrapedAt = this.options.clock.epochMs();
      const { samples, problems } = parsePrometheusText(text);
      const workloads = new Map(workloadPods.map(({ pod, workload }) => [`${pod.metadata?.namespace}/${pod.metadata?.name}`, workload]));
      const step = stepUsage(this.histories, containerReadings(samples, scrapedAt), (pod) => workloads.get(pod));
      this.histories = step.histories;
      this.pods = step.pods;
      this.scrapedAt = scrapedAt;
      if (problems.length > 0) this.options.log('warn', 'kubelet metrics lines skipped', { count: problems.length, first: problems[0] });
      if (this.error !== undefined) this.options.log('info', 'kubelet scrape recovered', { node: this.options.node });
      this.error = undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Once per distinct failure, not every interval.
      if (message !== this.error) this.options.log('warn', 'kubelet scrape failed', { node: this.options.node, error: message });
      this.error = message;
      this.options.onScrapeFailure?.();
    }
  }

  report(): UsageReport {
    const now = this.options.clock.epochMs();
    return {
      node: this.options.node,
      generatedAt: now,
      scrapedAt: this.scrapedAt,
      stale: this.error !== undefined,
      ...(this.error !== undefined ? { error: this.error } : {}),
      pods: this.pods,
      ooms: reportedOomKills(this.ooms, now),
    };
  }

  private workloadPods(): WorkloadPod[] {
    return this.sources.pods().flatMap((pod) => {
      const workload = injectedWorkload(pod.metadata?.annotations);
      return workload ? [{ pod, workload }] : [];
    });
  }
}

/** What /usage answers where the agent has no kubelet to read (process-level tests without an API server). */
export function usageUnavailable(node: string, reason: string, now: number): UsageReport {
  return { node, generatedAt: now, scrapedAt: null, stale: true, error: reason, pods: [], ooms: [] };
}
