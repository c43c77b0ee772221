// The interceptor's counters: what the agent scrapes (/stats) and Prometheus reads (/metrics).
// Counting follows kedacore/http-add-on's counting middleware: count in when the request
// arrives, count out exactly once when it ends however it ends, so an abort can never leave
// the in-flight figure too high (which would keep a workload awake forever) or make it negative.

import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ConcurrencyMeter, type Release } from '../../src/core/activity/concurrency.ts';
import type { InterceptorStats } from '../../src/protocol/stats.ts';
import type { WorkloadKey } from '../../src/protocol/workload.ts';

export interface ActivityFilter {
  ignorePaths: ReadonlySet<string>;
  ignoreUserAgents: readonly string[];
}

export class InterceptorActivity {
  readonly registry = new Registry();
  private readonly startedMs = performance.now();
  private readonly meter = new ConcurrencyMeter(this.startedMs);
  private readonly startedAt = Date.now();
  private lastRequestAt: number | null = null;
  private readonly latency: Histogram;

  constructor(
    private readonly workload: WorkloadKey,
    private readonly filter: ActivityFilter,
  ) {
    this.latency = new Histogram({
      name: 'ebb_interceptor_request_duration_seconds',
      help: 'Time from a counted request arriving to its response ending (or the client going away).',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    const meter = this.meter;
    new Gauge({
      name: 'ebb_interceptor_in_flight_requests',
      help: 'Counted requests (and HTTP/2 streams, and open upgraded connections) being served.',
      registers: [this.registry],
      collect() {
        this.set(meter.snapshot(performance.now()).inFlight);
      },
    });
    new Counter({
      name: 'ebb_interceptor_requests_total',
      help: 'Counted requests that have ended.',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(meter.snapshot(performance.now()).requests);
      },
    });
  }

  /**
   * Whether a request is activity: kubelet probes and configured paths/agents are not. An HTTP/2
   * stream is asked with its :path as `url`.
   */
  counts(request: Pick<IncomingMessage, 'headers' | 'url'>): boolean {
    const userAgent = request.headers['user-agent'];
    if (userAgent !== undefined && this.filter.ignoreUserAgents.some((prefix) => userAgent.startsWith(prefix))) return false;
    if (this.filter.ignorePaths.size === 0) return true;
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    return !this.filter.ignorePaths.has(query < 0 ? url : url.slice(0, query));
  }

  /** Counts a request in; the returned function counts it out (idempotent) and records latency. */
  begin(): () => void {
    const startedMs = performance.now();
    this.lastRequestAt = Date.now();
    const release: Release = this.meter.enter(startedMs);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const endedMs = performance.now();
      release(endedMs);
      this.latency.observe((endedMs - startedMs) / 1000);
    };
  }

  inFlight(): number {
    return this.meter.snapshot(performance.now()).inFlight;
  }

  stats(appReady: boolean, draining: boolean): InterceptorStats {
    const nowMs = performance.now();
    const snapshot = this.meter.snapshot(nowMs);
    return {
      workload: this.workload,
      startedAt: this.startedAt,
      inFlight: snapshot.inFlight,
      requests: snapshot.requests,
      inFlightMsTotal: Math.round(snapshot.inFlightMsTotal * 1000) / 1000,
      lastRequestAt: this.lastRequestAt,
      sampledAt: Date.now(),
      uptimeMs: nowMs - this.startedMs,
      appReady,
      draining,
    };
  }
}
