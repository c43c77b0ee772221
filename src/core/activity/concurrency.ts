// In-flight counting for one interceptor: count in when a request arrives, count out exactly once
// when it ends however it ends (finished, aborted by the client, failed upstream, upgraded socket
// closed). The meter also integrates in-flight over time so that a reader can compute the mean
// concurrency over any window from two samples, however seldom it samples.
// Pure: time is passed in (monotonic milliseconds).

export interface ConcurrencySnapshot {
  inFlight: number;
  requests: number;
  /** ∫ inFlight dt since the meter started, in request·milliseconds. */
  inFlightMsTotal: number;
}

/** Ends one counted request; calling it again does nothing, so every exit path may call it. */
export type Release = (nowMs: number) => void;

export class ConcurrencyMeter {
  private inFlight = 0;
  private requests = 0;
  private integralMs = 0;
  private lastChangeMs: number;

  constructor(startMs: number) {
    this.lastChangeMs = startMs;
  }

  enter(nowMs: number): Release {
    this.accrue(nowMs);
    this.inFlight += 1;
    let released = false;
    return (endMs: number) => {
      if (released) return;
      released = true;
      this.accrue(endMs);
      this.inFlight -= 1;
      this.requests += 1;
    };
  }

  snapshot(nowMs: number): ConcurrencySnapshot {
    const sinceChange = Math.max(0, nowMs - this.lastChangeMs);
    return { inFlight: this.inFlight, requests: this.requests, inFlightMsTotal: this.integralMs + this.inFlight * sinceChange };
  }

  private accrue(nowMs: number): void {
    // A clock that steps back must not make the integral shrink.
    if (nowMs > this.lastChangeMs) {
      this.integralMs += this.inFlight * (nowMs - this.lastChangeMs);
      this.lastChangeMs = nowMs;
    }
  }
}
