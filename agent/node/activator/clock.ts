// The activator's time: the agent's clock (../clock.ts) and a timer on the same scale, for what it
// schedules (hold deadlines, wake retries, the drain on shutdown). A test drives both by hand
// instead of sleeping, as knative's collector is given its clock (pkg/autoscaler/metrics/collector.go).

import { systemClock, type Clock } from '../clock.ts';

export interface TimerClock extends Clock {
  /** Calls `fn` once, `ms` monotonic milliseconds from now; returns a function that cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

export const systemTimerClock: TimerClock = {
  ...systemClock,
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};
