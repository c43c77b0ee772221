// The horizontal decider: feed an ActivityWindow with samples, call decide() on every tick (and
// with `wake: true` when an agent asks for a replica), keep the returned state for the next tick.
export { ActivityWindow } from './activity-window.ts';
export type { ActivitySample, ActivitySnapshot, ActivityWindows } from './activity-window.ts';
export { decide, DEFAULT_TUNING, INITIAL_DECIDER_STATE } from './decide.ts';
export type { DecideInput, DeciderState, DeciderTuning, Decision } from './decide.ts';
export type { Reason, ReasonCode } from './reason.ts';
export { activityHorizonMs, TUNING_RANGES, tuningProblems } from './tuning.ts';
export type { TuningProblem, TuningRange } from './tuning.ts';
