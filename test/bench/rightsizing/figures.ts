// What the right-sizing benchmark measures for one recommender on one trace, given the targets it
// published every 5 simulated minutes: requests follow the targets, and each sample is compared
// with the request in force when it was taken.

import type { Trace, TraceSample } from './traces.ts';

/** One published recommendation, in cores and bytes; null where the recommender has none. */
export interface Published {
  at: number;
  cpuCores: number | null;
  memoryBytes: number | null;
  /** ebb's raise-only phase: a target below the request in force is not applied. */
  raiseOnly: boolean;
}

type Resource = 'cpuCores' | 'memoryBytes';
export const RESOURCES: readonly Resource[] = ['cpuCores', 'memoryBytes'];

/** Sums over samples, so traces can be pooled into overall figures. */
export interface Tally {
  samples: number;
  requested: number;
  slack: number;
  under: number;
}

/** Minutes from a step until the target stays where it should; null: it never does. */
export interface StepFigures {
  /** …within ±15 % of the new level's p90. */
  follow: number | null;
  /** …on the new level's side of that band's near edge (up: ≥ 0.85 × p90, down: ≤ 1.15 × p90), however far beyond. */
  reach: number | null;
}

export interface TraceFigures {
  tally: Record<Resource, Tally>;
  /** For a trace with a step. */
  step: Record<Resource, StepFigures> | undefined;
  /** Request moves of more than `tolerance` per simulated day with samples (each would be a resize). */
  resizesPerDay: number;
}

/** The share of requested resources that went unused: Σ(request − usage)⁺ / Σ request. */
export const slackRatio = (tally: Tally) => tally.slack / tally.requested;
/** The share of samples that used more than their request. */
export const underShare = (tally: Tally) => tally.under / tally.samples;

export function emptyTally(): Tally {
  return { samples: 0, requested: 0, slack: 0, under: 0 };
}

export function addTally(into: Tally, from: Tally): void {
  into.samples += from.samples;
  into.requested += from.requested;
  into.slack += from.slack;
  into.under += from.under;
}

/**
 * The request in force after each recommendation: the target, except that a raise-only target
 * below the request is not applied, and no target keeps the request. Before the first target,
 * the request is the first target (as if the pod had been created with it).
 */
function requestsOf(published: readonly Published[], resource: Resource): number[] {
  const first = published.find((entry) => entry[resource] !== null)?.[resource] ?? 0;
  let request = first;
  return published.map((entry) => {
    const target = entry[resource];
    if (target !== null && !(entry.raiseOnly && target < request)) request = target;
    return request;
  });
}

function tallyOf(samples: readonly TraceSample[], published: readonly Published[], resource: Resource): Tally {
  const requests = requestsOf(published, resource);
  const tally = emptyTally();
  let index = -1;
  for (const sample of samples) {
    // The recommendation published before this sample is in force (one at the same instant was computed from it).
    while (index + 1 < published.length && published[index + 1]!.at < sample.at) index++;
    const request = index >= 0 ? requests[index]! : (requests[0] ?? 0);
    const usage = sample[resource];
    tally.samples++;
    tally.requested += request;
    tally.slack += Math.max(0, request - usage);
    if (usage > request) tally.under++;
  }
  return tally;
}

function percentileOf(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

/** Minutes from `from` until `holds` is true of every later target; null if it is not of the last one. */
function minutesUntilHolding(published: readonly Published[], from: number, resource: Resource, holds: (target: number) => boolean): number | null {
  let holdingSince: number | null = null;
  for (const entry of published) {
    if (entry.at < from) continue;
    const target = entry[resource];
    if (target === null || !holds(target)) holdingSince = null;
    else holdingSince ??= entry.at;
  }
  return holdingSince === null ? null : (holdingSince - from) / 60_000;
}

function stepFigures(trace: Trace, published: readonly Published[], resource: Resource): StepFigures {
  const step = trace.step!;
  const level = percentileOf(
    trace.samples.filter((sample) => sample.at >= step.at).map((sample) => sample[resource]),
    0.9,
  );
  const [low, high] = [0.85 * level, 1.15 * level];
  return {
    follow: minutesUntilHolding(published, step.at, resource, (target) => target >= low && target <= high),
    reach: minutesUntilHolding(published, step.at, resource, (target) => (step.direction === 'up' ? target >= low : target <= high)),
  };
}

/**
 * Times a request (either resource) would be resized: it moved more than `tolerance` from where it
 * stood at the last resize, as a caller applying sizing.tolerance does.
 */
function resizes(published: readonly Published[], tolerance: number): number {
  const requests = RESOURCES.map((resource) => requestsOf(published, resource));
  const standing = requests.map((series) => series[0] ?? 0);
  let count = 0;
  for (let index = 1; index < published.length; index++) {
    let moved = false;
    requests.forEach((series, resource) => {
      const request = series[index]!;
      if (Math.abs(request - standing[resource]!) > tolerance * standing[resource]!) {
        standing[resource] = request;
        moved = true;
      }
    });
    if (moved) count++;
  }
  return count;
}

export function figuresOf(trace: Trace, published: readonly Published[], tolerance: number, sampleEveryMs: number): TraceFigures {
  const days = (trace.samples.length * sampleEveryMs) / 86_400_000;
  return {
    tally: { cpuCores: tallyOf(trace.samples, published, 'cpuCores'), memoryBytes: tallyOf(trace.samples, published, 'memoryBytes') },
    step: trace.step && { cpuCores: stepFigures(trace, published, 'cpuCores'), memoryBytes: stepFigures(trace, published, 'memoryBytes') },
    resizesPerDay: resizes(published, tolerance) / days,
  };
}
