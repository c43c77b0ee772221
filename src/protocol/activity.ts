// agent → controller: what `GET /activity` on the agent answers (authenticated, see auth.ts).

import type { WorkloadKey } from './workload.ts';

export const ACTIVITY_PATH = '/activity';
/**
 * The report without the per-pod list (for people and tests): each workload's totals, as objects.
 */
export const ACTIVITY_TOTALS_PATH = `${ACTIVITY_PATH}?pods=false`;
/**
 * What the controller asks for every tick: the totals as columns (ActivityColumns). At 10,000 pods
 * the twenty agents' totals were 1.4 MB of objects, and parsing them was the largest single part of
 * a tick's own work (bench:controller's CPU profile); as columns they are 0.5 MB, parsed in about a
 * third of the time. An agent that predates the columns ignores `form` and answers the totals as
 * objects, which the controller reads as well (readActivityColumns).
 */
export const ACTIVITY_COLUMNS_PATH = `${ACTIVITY_TOTALS_PATH}&form=columns`;

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

/**
 * A report's totals as one array per figure: entry i of every array is the workload `workload[i]`
 * (WorkloadTotals says what each figure is).
 */
export interface ActivityColumns {
  node: string;
  generatedAt: number;
  windowMs: number;
  workload: WorkloadKey[];
  inFlight: number[];
  meanInFlight: number[];
  requestRate: number[];
  lastRequestAt: (number | null)[];
  held: number[];
  stalePods: number[];
}

/** The figures of WorkloadTotals, each a column of ActivityColumns. */
const FIGURES = ['inFlight', 'meanInFlight', 'requestRate', 'lastRequestAt', 'held', 'stalePods'] as const;

export function activityColumns(report: ActivityTotalsReport): ActivityColumns {
  const { node, generatedAt, windowMs, workloads } = report;
  const columns: ActivityColumns = {
    node,
    generatedAt,
    windowMs,
    workload: [],
    inFlight: [],
    meanInFlight: [],
    requestRate: [],
    lastRequestAt: [],
    held: [],
    stalePods: [],
  };
  for (const totals of workloads) {
    columns.workload.push(totals.workload);
    for (const figure of FIGURES) (columns[figure] as (number | null)[]).push(totals[figure]);
  }
  return columns;
}

/** What the agent answers a request for ACTIVITY_PATH with `query`: the whole report, its totals, or their columns. */
export function activityAnswer(report: ActivityReport, query: URLSearchParams): ActivityReport | ActivityTotalsReport | ActivityColumns {
  if (!asksForTotals(query)) return report;
  const totals = activityTotals(report);
  return query.get('form') === 'columns' ? activityColumns(totals) : totals;
}

/**
 * An answer to ACTIVITY_COLUMNS_PATH as columns: as sent, or from the totals as objects that an
 * older agent answers; else what is wrong with it (the field, what it holds, what is accepted).
 * The figures themselves are not checked here: the decider refuses a sample that is not a finite
 * number of 0 or more (core/decider/activity-window.ts).
 */
export function readActivityColumns(value: unknown): ActivityColumns | { error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'the answer is not a JSON object' };
  const v = value as Record<string, unknown>;
  if (typeof v.node !== 'string') return { error: `node: ${JSON.stringify(v.node)} is not a node's name (a string)` };
  if (Array.isArray(v.workloads)) {
    const unkeyed = v.workloads.findIndex((w) => typeof w !== 'object' || w === null || typeof (w as Record<string, unknown>).workload !== 'string');
    if (unkeyed >= 0) return { error: `workloads[${unkeyed}]: not a workload's totals (an object with a workload key, a string)` };
    return activityColumns(value as ActivityTotalsReport);
  }
  if (!Array.isArray(v.workload)) return { error: 'workload: missing (columns: an array of workload keys; or totals as objects: workloads)' };
  const notKey = v.workload.findIndex((key) => typeof key !== 'string');
  if (notKey >= 0) return { error: `workload[${notKey}]: ${JSON.stringify(v.workload[notKey])} is not a workload key (a string)` };
  const length = v.workload.length;
  for (const figure of FIGURES) {
    const column = v[figure];
    if (!Array.isArray(column) || column.length !== length) {
      const holds = Array.isArray(column) ? `${column.length} entries` : 'no array';
      return { error: `${figure}: ${holds} where workload has ${length} (one entry per workload)` };
    }
  }
  return value as ActivityColumns;
}

/**
 * `GET /activity/rises?since=<sequence>&waitMs=<ms>` (authenticated like ACTIVITY_PATH): held by the
 * agent until a workload's load on its node rises since the controller's last read of ACTIVITY_PATH
 * (core/activity/rise.ts), or until `waitMs` pass. The leader keeps one such question open at each
 * agent and runs a tick when one answers with workloads: a burst is decided on within about a
 * scrape interval rather than waiting for the next tick.
 */
export const ACTIVITY_RISES_PATH = `${ACTIVITY_PATH}/rises`;
/** How long an agent holds the question when the controller does not say. */
export const DEFAULT_RISE_WAIT_MS = 25_000;
/** The longest an agent holds it: well inside any proxy's idle timeout. */
export const MAX_RISE_WAIT_MS = 60_000;

export interface RiseReport {
  node: string;
  /** Counts the rises this agent has seen; the next question passes it back as `since`. */
  sequence: number;
  /** The workloads that rose since the controller last read this agent's activity; empty when none. */
  workloads: WorkloadKey[];
}

export interface RiseQuestion {
  /** The sequence of the last answer, absent on the first question. */
  since?: number;
  waitMs: number;
}

/** The question in a request's query, or what is wrong with it (the parameter, the value, what is accepted). */
export function parseRiseQuestion(query: URLSearchParams): RiseQuestion | { error: string } {
  const since = query.get('since');
  const waitMs = query.get('waitMs');
  const whole = (text: string) => (/^\d{1,15}$/.test(text) ? Number(text) : undefined);
  const question: RiseQuestion = { waitMs: DEFAULT_RISE_WAIT_MS };
  if (since !== null) {
    const value = whole(since);
    if (value === undefined) return { error: `since: "${since}" is not a sequence (a whole number, 0 or more)` };
    question.since = value;
  }
  if (waitMs !== null) {
    const value = whole(waitMs);
    if (value === undefined || value > MAX_RISE_WAIT_MS)
      return { error: `waitMs: "${waitMs}" is not a wait in ms (a whole number from 0 to ${MAX_RISE_WAIT_MS})` };
    question.waitMs = value;
  }
  return question;
}

export function riseQuestionPath(question: RiseQuestion): string {
  const since = question.since === undefined ? '' : `since=${question.since}&`;
  return `${ACTIVITY_RISES_PATH}?${since}waitMs=${question.waitMs}`;
}

export function isRiseReport(value: unknown): value is RiseReport {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.node === 'string' && Number.isSafeInteger(v.sequence) && Array.isArray(v.workloads) && v.workloads.every((w) => typeof w === 'string');
}
