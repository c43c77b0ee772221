// The agent's view of one interceptor over time: the samples it scraped within a window, from
// which it derives the request rate and the mean concurrency. Counters are cumulative, so a
// missed scrape loses nothing; a restarted interceptor (new startedAt) starts a new series.
// Pure: time is passed in (milliseconds).

export interface CounterSample {
  /** When the agent received the sample (agent clock); decides window membership. */
  receivedAt: number;
  /** The interceptor's monotonic clock at sampling; used for the deltas (no network jitter in them). */
  uptimeMs: number;
  startedAt: number;
  inFlight: number;
  requests: number;
  inFlightMsTotal: number;
  lastRequestAt: number | null;
}

export interface WindowFigures {
  inFlight: number;
  meanInFlight: number;
  requestRate: number;
  lastRequestAt: number | null;
}

export class SampleWindow {
  private samples: CounterSample[] = [];

  constructor(private readonly windowMs: number) {}

  add(sample: CounterSample): void {
    const newest = this.samples.at(-1);
    if (newest && newest.startedAt !== sample.startedAt) this.samples = [];
    this.samples.push(sample);
    // Keep one sample at or before the window's start so the window is covered end to end.
    const windowStart = sample.receivedAt - this.windowMs;
    while (this.samples.length > 2 && (this.samples[1]?.receivedAt ?? Infinity) <= windowStart) this.samples.shift();
  }

  latest(): CounterSample | undefined {
    return this.samples.at(-1);
  }

  figures(nowMs: number): WindowFigures | undefined {
    const newest = this.samples.at(-1);
    if (!newest) return undefined;
    // The window runs from the last sample at or before its start (else the first one we have).
    const windowStart = nowMs - this.windowMs;
    let oldest = this.samples[0] ?? newest;
    for (const sample of this.samples) {
      if (sample.receivedAt > windowStart) break;
      oldest = sample;
    }
    const elapsed = newest.uptimeMs - oldest.uptimeMs;
    if (elapsed <= 0) {
      return { inFlight: newest.inFlight, meanInFlight: newest.inFlight, requestRate: 0, lastRequestAt: newest.lastRequestAt };
    }
    return {
      inFlight: newest.inFlight,
      meanInFlight: (newest.inFlightMsTotal - oldest.inFlightMsTotal) / elapsed,
      requestRate: ((newest.requests - oldest.requests) * 1000) / elapsed,
      lastRequestAt: newest.lastRequestAt,
    };
  }
}
