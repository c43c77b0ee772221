// The agent's clocks behind one seam, so tests drive time instead of waiting for it.

export interface Clock {
  /** Monotonic milliseconds: windows and intervals, immune to wall-clock steps. */
  monotonicMs(): number;
  /** Wall-clock epoch milliseconds: timestamps that other programs read. */
  epochMs(): number;
}

export const systemClock: Clock = { monotonicMs: () => performance.now(), epochMs: () => Date.now() };
