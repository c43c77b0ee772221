// The decider's tuning as configuration, as knative's autoscaler configuration is: each field's
// accepted range, and the rules across fields, checked once when a program starts. The defaults
// (DEFAULT_TUNING) lie inside every range.

import type { DeciderTuning } from './decide.ts';

export interface TuningRange {
  min: number;
  max: number;
  /** Whole numbers only (milliseconds). */
  whole: boolean;
}

export const TUNING_RANGES: { readonly [K in keyof DeciderTuning]: TuningRange } = {
  // knative's stable window spans 6 s to 1 h; so does ebb's.
  stableWindowMs: { min: 6_000, max: 3_600_000, whole: true },
  panicWindowMs: { min: 1_000, max: 3_600_000, whole: true },
  // At or below 1 the decider would panic whenever it wants what is ready.
  panicThreshold: { min: 1.1, max: 100, whole: false },
  // At or below 1 a step could never leave the ready count.
  maxScaleUpRate: { min: 1.1, max: 10_000, whole: false },
  maxScaleDownRate: { min: 1.1, max: 1_000, whole: false },
  // Agents report every 1-2 s: less than 2 s would call every workload stale.
  staleAfterMs: { min: 2_000, max: 60_000, whole: true },
};

/** A rule across fields that the tuning breaks: the field to change, and why. */
export interface TuningProblem {
  field: keyof DeciderTuning;
  problem: string;
}

export function tuningProblems(tuning: DeciderTuning): TuningProblem[] {
  const problems: TuningProblem[] = [];
  if (tuning.panicWindowMs > tuning.stableWindowMs) {
    problems.push({ field: 'panicWindowMs', problem: `the panic window must not be longer than the stable window (${tuning.stableWindowMs} ms)` });
  }
  return problems;
}

/** How far back a workload's ActivityWindow must reach: the longest window the decider reads. */
export function activityHorizonMs(tuning: DeciderTuning): number {
  return Math.max(tuning.stableWindowMs, tuning.panicWindowMs);
}
