// agent → controller: what `GET /activity` on the agent answers (authenticated, see auth.ts).

import type { WorkloadKey } from './workload.ts';

export const ACTIVITY_PATH = '/activity';
/**
 * What the controller asks for: the report without the per-pod list. It reads the workloads'
 * totals only, and at 10,000 pods the list was most of what it parsed every tick; people and tests
 * ask `/activity` for the whole report.
 */
export const ACTIVITY_TOTALS_PATH = `${ACTIVITY_PATH}?pods=false`;

/** Whether a request for ACTIVITY_PATH asked for the totals only (ACTIVITY_TOTALS_PATH's query). */
export function asksForTotals(query: URLSearchParams): boolean {
  return query.get('pods') === 'false';
}

export interface PodActivity {
  /** `namespace/pod`. */
  pod: string;
  inFlight: number;
  /** True when the last scrape failed: the figures are the last ones known, not zero. */
  stale: boolean;
  /** Epoch ms of the last successful scrape (agent clock). */
  scrapedAt: number | null;
}

/** A workload's figures on one node: what the controller decides on. */
export interface WorkloadTotals {
  workload: WorkloadKey;
  /** Sum of the pods' in-flight requests at the last scrape (stale pods count their last value). */
  inFlight: number;
  /** Mean concurrency over the window (from the interceptors' in-flight integrals). */
  meanInFlight: number;
  /** Requests per second over the window. */
  requestRate: number;
  /** Epoch ms of the most recent request seen by any pod; null if none since they started. */
  lastRequestAt: number | null;
  /** Requests held by this agent's activator for the workload right now. */
  held: number;
  /** How many of the pods could not be scraped last time. */
  stalePods: number;
}

export interface WorkloadActivity extends WorkloadTotals {
  pods: PodActivity[];
}

export interface ActivityReport<Workload extends WorkloadTotals = WorkloadActivity> {
  /** The node this agent runs on. */
  node: string;
  /** Epoch ms at which the report was built (agent clock). */
  generatedAt: number;
  /** The length of the window behind meanInFlight and requestRate. */
  windowMs: number;
  workloads: Workload[];
}

/** The report as ACTIVITY_TOTALS_PATH answers it: each workload without its pods. */
export type ActivityTotalsReport = ActivityReport<WorkloadTotals>;

export function activityTotals(report: ActivityReport): ActivityTotalsReport {
  return { ...report, workloads: report.workloads.map(({ pods: _pods, ...totals }) => totals) };
}
