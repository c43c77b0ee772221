// When a tick asked for ahead of the schedule runs (an agent saw a workload's load rise: see
// core/activity/rise.ts). Pure: the caller passes the clock's readings.

export interface TickTimes {
  now: number;
  /** When the last tick, scheduled or early, started; NaN before the first. */
  lastStartedAt: number;
  /** When the next scheduled tick is due; NaN before the first. */
  nextDueAt: number;
  /**
   * The least time between two ticks' starts. Rises come from every agent, each at most once per
   * workload between two reads: without a floor, a burst seen on 20 nodes at once would be 20 ticks.
   */
  minGapMs: number;
}

/**
 * Milliseconds from now until the early tick, or undefined when none is worth running: the
 * scheduled tick is due within the gap anyway.
 */
export function earlyTickDelay({ now, lastStartedAt, nextDueAt, minGapMs }: TickTimes): number | undefined {
  if (Number.isNaN(lastStartedAt)) return 0;
  if (nextDueAt - now <= minGapMs) return undefined;
  return Math.max(0, lastStartedAt + minGapMs - now);
}
