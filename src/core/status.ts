// The `ebb.dev/status` annotation on a Deployment: what ebb last decided for it and why, readable
// with `kubectl get deploy -o yaml` and by ebb itself (the webhook reads the recommendation from
// it). Fields written by other parts of ebb (the recommendation) are carried over untouched.

import type { Decision } from './decider/index.ts';
import { fnv1a } from './hash.ts';
import { movedContainers, targetsOf, type StatusRecommendation } from './recommendation.ts';
import { rememberedPerObject } from './remembered.ts';

export interface StatusFields {
  desiredReplicas: number | null;
  reason: string;
  message: string;
  /** ISO time of the most recent request any agent saw. */
  lastRequestAt?: string;
  /**
   * The mean requests in flight the decision saw (stable window, one decimal); null when it saw no
   * fresh activity (so an older figure is not left standing). Like `message`, a change alone does
   * not cost a write: it is as fresh as `updatedAt`.
   */
  inFlight?: number | null;
  updatedAt: string;
  /** The recommender's current figures; absent: whatever the annotation has is kept. */
  recommendation?: StatusRecommendation;
  /** `observed`, or `not observed: <why>` when some traffic goes around the interceptor (core/traffic-visibility.ts). */
  traffic?: string;
  /** What waits for the workload's pods (a resize, an eviction's turn), one line per pod; empty when nothing does. */
  pending?: string[];
}

/**
 * How often, at the least, a status whose decision did not change is refreshed (for lastRequestAt
 * and inFlight). Seldom, because a status write is four writes to the API server: the Deployment
 * controller copies the annotation onto the current ReplicaSet and then updates the Deployment's
 * status (bench:controller, 1,000 workloads: 21.7 PATCH deployments/s came with 21.9 PUT
 * deployments/status/s and 42.4 PUT replicasets/s). A minute's refresh alone was 13 patches, so
 * over 50 writes, a second. The WRITTEN age in `kubectl ebb status` says how old the figures are.
 */
export const STATUS_REFRESH_MS = 5 * 60_000;
/** How much later than STATUS_REFRESH_MS a workload's refresh may come (see statusRefreshMs). */
export const STATUS_REFRESH_SPREAD_MS = 150_000;

/**
 * The refresh interval of one workload: STATUS_REFRESH_MS plus a share of the spread fixed by its
 * key. Workloads decided at the same tick (every one, when a controller starts leading) were all
 * refreshed at the same tick a period later, and every period after: a burst of a write per
 * workload, and of as many watch events coming back, that slowed the ticks around it
 * (bench:controller, 1,000 workloads). With an interval of its own, each workload's refreshes
 * drift apart from the others'.
 */
export function statusRefreshMs(workload: string): number {
  return STATUS_REFRESH_MS + Math.round((fnv1a(workload) / 2 ** 32) * STATUS_REFRESH_SPREAD_MS);
}

/** What a status says beside the decision: the recommendation, whether ebb sees the traffic, what waits for the pods. */
export interface StatusExtras {
  recommendation?: StatusRecommendation;
  traffic?: string;
  pending?: string[];
}

/**
 * The fields of a status for this decision. Built for every workload every tick, so always with
 * the same keys in the same order (undefined where absent; `written` leaves those out): spreading
 * optional parts into the literal cost a tenth of a tick at 1,000 workloads (bench:controller profile).
 */
export function statusFields(decision: Decision, lastRequestAt: number | undefined, now: number, extras: StatusExtras = {}): StatusFields {
  return {
    recommendation: extras.recommendation,
    desiredReplicas: decision.desiredReplicas,
    reason: decision.reason.code,
    message: decision.reason.message,
    lastRequestAt: lastRequestAt !== undefined ? isoTime(lastRequestAt) : undefined,
    inFlight: decision.inFlight !== undefined ? Math.round(decision.inFlight * 10) / 10 : null,
    updatedAt: isoTime(now),
    traffic: extras.traffic,
    pending: extras.pending,
  };
}

/**
 * ISO texts, by epoch ms. statusFields runs for every workload every tick, and its times repeat:
 * the tick's clock moves a millisecond every few dozen workloads, and a workload's last request
 * stays the same between requests. Formatting them anew was a third of a status's cost
 * (bench:controller profile). Bounded: emptied when full.
 */
const isoTexts = new Map<number, string>();
const ISO_TEXTS_MAX = 10_000;

function isoTime(epochMs: number): string {
  let text = isoTexts.get(epochMs);
  if (text === undefined) {
    text = new Date(epochMs).toISOString();
    if (isoTexts.size >= ISO_TEXTS_MAX) isoTexts.clear();
    isoTexts.set(epochMs, text);
  }
  return text;
}

/**
 * The new annotation text, or undefined when writing is not worth it: the decision and its reason
 * code are unchanged, no recommended target moved by more than `tolerance`, and the last write is
 * recent (within `refreshMs`). A changing message alone (the in-flight figure moves every tick) or a recommendation
 * drifting within the tolerance does not cost an API write per workload per tick.
 */
export function nextStatus(current: string | undefined, fields: StatusFields, now: number, tolerance = 0.1, refreshMs = STATUS_REFRESH_MS): string | undefined {
  const previous = parsedStatus(current);
  const written = () => writtenStatus(previous, fields);
  const { same: sameRecommendation, moved } = compareRecommendation(previous, fields.recommendation, tolerance);
  if (moved) return written();
  // Whether ebb sees the traffic is said at once, as it changes: it explains the decisions.
  if (fields.traffic !== undefined && previous.traffic !== fields.traffic) return written();
  // So is what waits for its pods: it changes when something happens, not every tick.
  if (fields.pending !== undefined && !sameLines(previous.pending, fields.pending)) return written();
  const sameDecision = previous.desiredReplicas === fields.desiredReplicas && previous.reason === fields.reason;
  if (sameDecision && now - updatedAtOf(previous) < refreshMs) return undefined;
  const sameLoad = previous.message === fields.message && previous.inFlight === fields.inFlight;
  if (sameDecision && sameRecommendation && previous.lastRequestAt === fields.lastRequestAt && sameLoad) return undefined;
  return written();
}

/** The previous annotation's fields, with the new ones over them: an absent (undefined) field keeps what was there. */
function writtenStatus(previous: Readonly<Record<string, unknown>>, fields: StatusFields): string {
  const merged: Record<string, unknown> = { ...previous };
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) merged[name] = value;
  return JSON.stringify(merged);
}

function sameLines(previous: unknown, next: readonly string[]): boolean {
  const before = Array.isArray(previous) ? (previous as unknown[]) : [];
  return before.length === next.length && next.every((line, i) => before[i] === line);
}

/** When the parsed annotation was written (NaN when it does not say): read every tick, changed only by a write. */
const updatedAtOf = rememberedPerObject((previous: Readonly<Record<string, unknown>>) =>
  typeof previous.updatedAt === 'string' ? Date.parse(previous.updatedAt) : NaN,
);

/**
 * Annotations parsed, by text. nextStatus runs for every workload every tick, and a workload's
 * text changes only when it is written: parsing them all again was a tenth of a tick at 1,000
 * workloads (bench:controller profile). Bounded: emptied when full. Read only: never mutated.
 */
const parsedTexts = new Map<string, Readonly<Record<string, unknown>>>();
const PARSED_TEXTS_MAX = 20_000;

const NO_STATUS: Readonly<Record<string, unknown>> = Object.freeze({});

function parsedStatus(text: string | undefined): Readonly<Record<string, unknown>> {
  if (!text) return NO_STATUS;
  let parsed = parsedTexts.get(text);
  if (parsed === undefined) {
    parsed = {};
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null) parsed = value as Record<string, unknown>;
    } catch {
      // An unreadable annotation is replaced.
    }
    if (parsedTexts.size >= PARSED_TEXTS_MAX) parsedTexts.clear();
    parsedTexts.set(text, parsed);
  }
  return parsed;
}

interface RecommendationComparison {
  /** The status already says exactly this recommendation. */
  same: boolean;
  /** A target moved by more than the tolerance: worth a write now. */
  moved: boolean;
}

/**
 * Comparisons, by the recommendation compared: the sizing round publishes one object per workload
 * every 10 s, and every tick (2 s) compares it with the same parsed annotation. Comparing them
 * again each tick (two JSON texts, and quantities parsed when the figures drift within the
 * tolerance) was two thirds of a tick at 1,000 workloads (bench:controller profile). Weak: a
 * recommendation replaced by the next round's takes its comparison with it.
 */
const comparisons = new WeakMap<StatusRecommendation, { previous: object; tolerance: number; result: RecommendationComparison }>();

/**
 * Compares a new recommendation with the one in the annotation `current` and remembers the answer,
 * which nextStatus then finds. The sizing round calls it as it publishes each recommendation, in
 * its time slices: otherwise the tick after every round compared 1,000 new recommendations at once
 * (bench:controller profile: 30–60 ms of that tick).
 */
export function compareWithStatus(current: string | undefined, next: StatusRecommendation, tolerance: number): void {
  compareRecommendation(parsedStatus(current), next, tolerance);
}

function compareRecommendation(
  previous: Readonly<Record<string, unknown>>,
  next: StatusRecommendation | undefined,
  tolerance: number,
): RecommendationComparison {
  if (next === undefined) return { same: true, moved: false };
  const known = comparisons.get(next);
  if (known?.previous === previous && known.tolerance === tolerance) return known.result;
  const same = sameJsonValue(previous.recommendation, next);
  const result = { same, moved: !same && recommendationMoved(previous.recommendation, next, tolerance) };
  comparisons.set(next, { previous, tolerance, result });
  return result;
}

/**
 * Whether two JSON values are equal, key order aside. Walked rather than compared as JSON texts:
 * a new recommendation differs from the annotation's in its newest sample's time nearly every
 * round, which this finds at once, where writing out every new recommendation as text was over
 * half of the comparison (profile of a scratch loop of sizing rounds at 1,000 workloads).
 */
function sameJsonValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  return aKeys.every((key) => Object.hasOwn(b, key) && sameJsonValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

/** The same target texts, container for container: then no target moved, and nothing is parsed (targets are written by formatCpu/formatMemory, one text per figure). */
function sameTargetTexts(previous: unknown, next: StatusRecommendation): boolean {
  const before = (previous as { containers?: Record<string, { cpu?: unknown; memory?: unknown } | undefined> } | undefined)?.containers;
  if (typeof before !== 'object' || before === null) return false;
  const names = Object.keys(next.containers);
  return (
    names.length === Object.keys(before).length &&
    names.every((name) => before[name]?.cpu === next.containers[name]!.cpu && before[name]?.memory === next.containers[name]!.memory)
  );
}

function recommendationMoved(previous: unknown, next: StatusRecommendation, tolerance: number): boolean {
  if (sameTargetTexts(previous, next)) return false;
  const before = targetsOf((previous as { containers?: unknown } | undefined)?.containers);
  return movedContainers(before, targetsOf(next.containers) ?? {}, tolerance).length > 0;
}

/** The annotation as read back (by `kubectl ebb`): the fields of the right type, the others left out. */
export type ReadStatus = Partial<Omit<StatusFields, 'recommendation'>> & { recommendation?: unknown };

export function readStatus(text: string | undefined): ReadStatus | undefined {
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const fields = parsed as Record<string, unknown>;
  const string = (name: string) => (typeof fields[name] === 'string' ? { [name]: fields[name] } : {});
  const desired = fields.desiredReplicas;
  return {
    ...(typeof desired === 'number' || desired === null ? { desiredReplicas: desired } : {}),
    ...string('reason'),
    ...string('message'),
    ...string('lastRequestAt'),
    ...string('updatedAt'),
    ...string('traffic'),
    ...(typeof fields.inFlight === 'number' || fields.inFlight === null ? { inFlight: fields.inFlight } : {}),
    ...(Array.isArray(fields.pending) ? { pending: fields.pending.filter((line): line is string => typeof line === 'string') } : {}),
    ...(fields.recommendation !== undefined ? { recommendation: fields.recommendation } : {}),
  };
}
