// interceptor → agent: what `GET /stats` on the interceptor's admin port answers.
// Every counter is cumulative since the interceptor started (`startedAt` changes on a restart),
// so the agent can compute rates and means over any window from two samples and a lost scrape
// loses no information.

import type { WorkloadKey } from './workload.ts';

export const INTERCEPTOR_STATS_PATH = '/stats';

export interface InterceptorStats {
  workload: WorkloadKey;
  /** Epoch ms when this interceptor process started; a new value means the counters restarted. */
  startedAt: number;
  /** Requests (and open upgraded connections) being served right now. */
  inFlight: number;
  /** Counted requests completed or aborted since start. */
  requests: number;
  /**
   * ∫ inFlight dt since start, in request·milliseconds. Its increase over a window divided by the
   * window's length is the mean concurrency, which is what the controller scales on.
   */
  inFlightMsTotal: number;
  /** Epoch ms of the last counted request's arrival; null before the first one. */
  lastRequestAt: number | null;
  /** Epoch ms at which the interceptor took this sample (its own wall clock). */
  sampledAt: number;
  /** Monotonic ms since the interceptor started, at this sample: the clock to take deltas on. */
  uptimeMs: number;
  /** Whether the app answered the interceptor's readiness check. */
  appReady: boolean;
  /** True once SIGTERM was received: the pod is going away. */
  draining: boolean;
}

export function isInterceptorStats(value: unknown): value is InterceptorStats {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.workload === 'string' &&
    typeof v.startedAt === 'number' &&
    typeof v.inFlight === 'number' &&
    typeof v.requests === 'number' &&
    typeof v.inFlightMsTotal === 'number' &&
    (v.lastRequestAt === null || typeof v.lastRequestAt === 'number') &&
    typeof v.sampledAt === 'number' &&
    typeof v.uptimeMs === 'number' &&
    typeof v.appReady === 'boolean' &&
    typeof v.draining === 'boolean'
  );
}
