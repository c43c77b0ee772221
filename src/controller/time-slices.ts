// Long rounds of work cut into slices of the controller's one event loop. The scaling tick shares
// that loop with the sizing round: a round held the loop for its whole length, and a tick whose
// agent answer arrived meanwhile waited behind it (bench:controller: the slowest ticks were the
// ones beside a sizing round). Between slices the loop turns, so I/O callbacks and timers run,
// and nothing waits behind more than one slice.

/** Long enough that yielding costs nothing measurable; short beside the tick's 100 ms target. */
export const DEFAULT_SLICE_MS = 5;

export class TimeSlices {
  private sliceStartedAt: number;

  constructor(
    private readonly sliceMs = DEFAULT_SLICE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.sliceStartedAt = now();
  }

  /** At once while the current slice lasts; once it is used up, after one turn of the event loop. */
  async next(): Promise<void> {
    if (this.now() - this.sliceStartedAt < this.sliceMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.sliceStartedAt = this.now();
  }
}
