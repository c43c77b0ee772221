// The recent activity of one workload, as the decider reads it: in-flight concurrency averaged over
// a stable and a panic window, the request rate, and the last request. Samples arrive every second
// or two; they are kept in one bucket per second in a ring, so memory is fixed by the horizon
// however often agents report.

/**
 * The activity of a whole workload at one instant: the controller combines the agents' reports
 * (protocol/activity.ts) into one sample, summing over agents. `at` is the controller's clock.
 */
export interface ActivitySample {
  at: number;
  /**
   * Requests in flight, summed over every pod of the workload; requests held by the activators
   * belong in it too, so that load at zero scales up like load anywhere else.
   */
  inFlight: number;
  /** Requests per second, summed over the pods. */
  requestRate?: number;
  /** The most recent request any pod saw (the agents' `lastRequestAt`). */
  lastRequestAt?: number;
}

export interface ActivityWindows {
  stableWindowMs: number;
  panicWindowMs: number;
}

/** What the window holds at one instant; plain data, so the decider stays a function of it. */
export interface ActivitySnapshot {
  /** The newest sample's time; undefined when nothing has been recorded. */
  latestSampleAt?: number;
  /** Mean in-flight concurrency over the stable window. */
  stableInFlight: number;
  /** Mean in-flight concurrency over the panic window. */
  panicInFlight: number;
  /** The most requests seen in flight at once during the panic window or in the newest sample. */
  peakInFlight: number;
  /** Mean request rate over the stable window, requests per second (for status and metrics). */
  requestRate: number;
  lastRequestAt?: number;
  /** When this window saw its first sample: what "idle since" falls back to when no request is known. */
  observedSince?: number;
}

const SECOND_MS = 1000;

interface Bucket {
  second: number;
  inFlightSum: number;
  samples: number;
  peakInFlight: number;
  requestRateSum: number;
}

export class ActivityWindow {
  readonly #horizonMs: number;
  readonly #buckets: (Bucket | undefined)[];
  #latest?: { at: number; inFlight: number; requestRate: number };
  #lastRequestAt?: number;
  #observedSince?: number;

  /**
   * @param horizonMs how far back the window can answer; at least the longest window asked for.
   * @param lastRequestAt a last request time known from before this window existed (the
   *   workload's status annotation, after a controller restart), so idleness is not forgotten.
   */
  constructor({ horizonMs = 60_000, lastRequestAt }: { horizonMs?: number; lastRequestAt?: number } = {}) {
    this.#horizonMs = horizonMs;
    this.#buckets = new Array<Bucket | undefined>(Math.ceil(horizonMs / SECOND_MS)).fill(undefined);
    this.#lastRequestAt = lastRequestAt;
  }

  /**
   * Adds one sample. Returns false, keeping nothing, for a sample that is malformed (negative or
   * non-finite numbers) or older than the horizon behind the newest one.
   */
  /** The most recent request known to this window (from samples, or given at construction). */
  get lastRequestAt(): number | undefined {
    return this.#lastRequestAt;
  }

  record(sample: ActivitySample): boolean {
    const { at, inFlight, requestRate = 0, lastRequestAt } = sample;
    const numbers = [at, inFlight, requestRate, lastRequestAt ?? 0];
    if (!numbers.every((n) => Number.isFinite(n) && n >= 0)) return false;
    if (this.#latest !== undefined && at <= this.#latest.at - this.#horizonMs) return false;

    const second = Math.floor(at / SECOND_MS);
    const index = second % this.#buckets.length;
    let bucket = this.#buckets[index];
    if (bucket === undefined || bucket.second < second) {
      bucket = { second, inFlightSum: 0, samples: 0, peakInFlight: 0, requestRateSum: 0 };
      this.#buckets[index] = bucket;
    } else if (bucket.second > second) {
      return false; // the slot already holds a newer second: this sample is past the horizon
    }
    bucket.inFlightSum += inFlight;
    bucket.samples += 1;
    bucket.peakInFlight = Math.max(bucket.peakInFlight, inFlight);
    bucket.requestRateSum += requestRate;

    if (this.#latest === undefined || at >= this.#latest.at) this.#latest = { at, inFlight, requestRate };
    this.#observedSince = Math.min(this.#observedSince ?? at, at);
    // Kept as the latest ever seen: an interceptor that restarts forgets its last request.
    if (lastRequestAt !== undefined) this.#lastRequestAt = Math.max(this.#lastRequestAt ?? lastRequestAt, lastRequestAt);
    return true;
  }

  /**
   * The activity as of `now`, the present: slots of seconds past the horizon are reused. One pass
   * over the slots, adding up both windows: it runs for every workload every tick.
   */
  snapshot(now: number, { stableWindowMs, panicWindowMs }: ActivityWindows): ActivitySnapshot {
    const newest = Math.floor(now / SECOND_MS);
    const stable = new WindowMeans(this.#oldestSecond(stableWindowMs, newest));
    const panic = new WindowMeans(this.#oldestSecond(panicWindowMs, newest));
    const latest = this.#latest;
    const latestInFlight = latest?.inFlight ?? 0;
    let peakInFlight = latestInFlight;
    for (const bucket of this.#buckets) {
      if (bucket === undefined || bucket.second > newest) continue;
      stable.add(bucket);
      if (panic.add(bucket)) peakInFlight = Math.max(peakInFlight, bucket.peakInFlight);
    }
    return {
      latestSampleAt: latest?.at,
      stableInFlight: stable.mean('inFlightSum', latestInFlight),
      panicInFlight: panic.mean('inFlightSum', latestInFlight),
      peakInFlight,
      requestRate: stable.mean('requestRateSum', latest?.requestRate ?? 0),
      lastRequestAt: this.#lastRequestAt,
      observedSince: this.#observedSince,
    };
  }

  /** The oldest second of the window (now - windowMs, now], the current second included. */
  #oldestSecond(windowMs: number, newest: number): number {
    if (windowMs > this.#horizonMs) {
      throw new RangeError(`a ${windowMs} ms window is longer than this ActivityWindow's ${this.#horizonMs} ms horizon`);
    }
    return newest - Math.ceil(windowMs / SECOND_MS) + 1;
  }
}

/**
 * A second without a sample is a missing report, not zero load (agents report every second or two,
 * and report zero when idle), so a mean is over the seconds that have samples. A window with none
 * falls back to the newest sample; whether that one is too old to trust is the decider's call.
 */
class WindowMeans {
  private seconds = 0;
  private readonly sums = { inFlightSum: 0, requestRateSum: 0 };

  constructor(private readonly oldestSecond: number) {}

  /** Adds the bucket's per-second means if its second is in the window; whether it was. */
  add(bucket: Bucket): boolean {
    if (bucket.second < this.oldestSecond) return false;
    this.sums.inFlightSum += bucket.inFlightSum / bucket.samples;
    this.sums.requestRateSum += bucket.requestRateSum / bucket.samples;
    this.seconds += 1;
    return true;
  }

  mean(sum: 'inFlightSum' | 'requestRateSum', latest: number): number {
    return this.seconds === 0 ? latest : this.sums[sum] / this.seconds;
  }
}
