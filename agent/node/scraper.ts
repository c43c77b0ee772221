// Scrapes every interceptor on the node once a second, all at once, each with a timeout, and
// keeps a window of samples per pod. A failed scrape marks the pod stale: it keeps its last
// figures (aggregate.ts explains why) until it is scraped again or leaves the node.

import http from 'node:http';
import { aggregateByWorkload, type PodFigures } from '../../src/core/activity/aggregate.ts';
import { SampleWindow } from '../../src/core/activity/window.ts';
import type { ActivityReport } from '../../src/protocol/activity.ts';
import { INTERCEPTOR_STATS_PATH, isInterceptorStats, type InterceptorStats } from '../../src/protocol/stats.ts';
import type { WorkloadKey } from '../../src/protocol/workload.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ScrapeTarget, TargetDiscovery } from './discovery.ts';
import { Rounds } from './rounds.ts';

interface PodState {
  workload: WorkloadKey | undefined;
  window: SampleWindow;
  stale: boolean;
  scrapedAt: number | null;
}

export interface ScraperOptions {
  intervalMs: number;
  timeoutMs: number;
  windowMs: number;
  onScrapeFailure?: () => void;
  /** After each round, once every pod has answered or failed. */
  onRound?: () => void;
  /** The system clock unless a test drives time. */
  clock?: Clock;
}

const pool = new http.Agent({ keepAlive: true, maxSockets: 4 });

function fetchStats(target: ScrapeTarget, timeoutMs: number): Promise<InterceptorStats> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${target.adminUrl}${INTERCEPTOR_STATS_PATH}`, { agent: pool, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        try {
          const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (isInterceptorStats(body)) resolve(body);
          else reject(new Error('not an interceptor stats document'));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

export class Scraper extends Rounds {
  private readonly pods = new Map<string, PodState>();
  private readonly clock: Clock;

  constructor(
    private readonly discovery: TargetDiscovery,
    private readonly options: ScraperOptions,
  ) {
    super(options.intervalMs);
    this.clock = options.clock ?? systemClock;
  }

  protected async round(): Promise<void> {
    await this.scrapeAll();
    this.options.onRound?.();
  }

  async scrapeAll(): Promise<void> {
    const targets = this.discovery.targets();
    const current = new Set(targets.map((t) => t.pod));
    for (const pod of this.pods.keys()) if (!current.has(pod)) this.pods.delete(pod);
    await Promise.all(targets.map((target) => this.scrape(target)));
  }

  private async scrape(target: ScrapeTarget): Promise<void> {
    let state = this.pods.get(target.pod);
    if (!state) {
      state = { workload: undefined, window: new SampleWindow(this.options.windowMs), stale: true, scrapedAt: null };
      this.pods.set(target.pod, state);
    }
    try {
      const stats = await fetchStats(target, this.options.timeoutMs);
      const receivedAt = this.clock.monotonicMs();
      state.workload = stats.workload;
      state.window.add({
        receivedAt,
        uptimeMs: stats.uptimeMs,
        startedAt: stats.startedAt,
        inFlight: stats.inFlight,
        requests: stats.requests,
        inFlightMsTotal: stats.inFlightMsTotal,
        lastRequestAt: stats.lastRequestAt,
      });
      state.stale = false;
      state.scrapedAt = this.clock.epochMs();
    } catch {
      state.stale = true;
      this.options.onScrapeFailure?.();
    }
  }

  report(node: string, heldByWorkload: ReadonlyMap<WorkloadKey, number>): ActivityReport {
    const now = this.clock.monotonicMs();
    const pods: PodFigures[] = [];
    for (const [pod, state] of this.pods) {
      // A pod never scraped successfully does not yet say which workload it serves.
      if (!state.workload) continue;
      pods.push({ pod, workload: state.workload, stale: state.stale, scrapedAt: state.scrapedAt, figures: state.window.figures(now) });
    }
    return { node, generatedAt: this.clock.epochMs(), windowMs: this.options.windowMs, workloads: aggregateByWorkload(pods, heldByWorkload) };
  }
}
