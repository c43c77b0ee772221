// CPU usage as a decaying histogram (the VPA's idea): exponential buckets, each sample weighted
// 2^(t / half-life) so that a sample one half-life older counts half as much. Time here is
// observed time (container-model.ts), so a workload asleep at zero keeps its history as it was.
//
// Buckets: [0, 2m), then boundaries growing 10 % each from 2m to 64 cores (110 buckets); usage of
// more than 64 cores counts as 64 cores (below 2m, the CPU floor decides anyway). The VPA's
// buckets grow 5 % because its target is a percentile, returned as a bucket's end; here the
// histogram gives the history's level and the upper bound, interpolated within a bucket, and 5 %
// buckets gave the very same benchmark figures at twice the checkpoint size.
//
// Bucket weights are float32: the checkpoint carries them exactly (base64 of the used span, at
// most 110 × 4 bytes → 588 characters), so a restored histogram gives identical percentiles.
// The total is a float64 sum of the sample weights in arrival order, identical for two histograms
// fed at the same times whatever the values, which keeps "more usage never gives a smaller
// percentile" exact.
import { fail, ok, type Result } from '../result.ts';
import type { Cores } from './units.ts';

const FIRST_BOUNDARY_CORES = 0.002;
const GROWTH = 1.1;
export const MAX_CORES = 64;
const LOG_GROWTH = Math.log(GROWTH);
export const BUCKET_COUNT = 1 + Math.ceil(Math.log(MAX_CORES / FIRST_BOUNDARY_CORES) / LOG_GROWTH);

/** BOUNDARIES[i] is where bucket i starts; the last bucket ends at BOUNDARIES[BUCKET_COUNT]. */
const BOUNDARIES = Float64Array.from({ length: BUCKET_COUNT + 1 }, (_, i) => (i === 0 ? 0 : FIRST_BOUNDARY_CORES * GROWTH ** (i - 1)));

/**
 * Weights are kept relative to a reference time; when the newest sample's weight passes 2^32 the
 * reference moves forward by whole half-lives (an exact rescaling by a power of two), and buckets
 * left below 2^-40 of the total are dropped: they can no longer move a percentile.
 */
const MAX_EXPONENT = 32;
const NEGLIGIBLE = 2 ** -40;

export function bucketOf(cores: Cores): number {
  if (!(cores >= FIRST_BOUNDARY_CORES)) return 0;
  return Math.min(BUCKET_COUNT - 1, 1 + Math.floor(Math.log(cores / FIRST_BOUNDARY_CORES) / LOG_GROWTH));
}

/** The histogram in a checkpoint: JSON-safe. */
export interface HistogramState {
  halfLifeMs: number;
  /** Observed time (ms) at which a sample weighs 1. */
  referenceMs: number;
  totalWeight: number;
  /** Index of the first bucket in `weights`. */
  firstBucket: number;
  /** Base64 of the float32 (little-endian) weights from firstBucket on. */
  weights: string;
}

export class DecayingHistogram {
  private readonly weights = new Float32Array(BUCKET_COUNT);
  private totalWeight = 0;
  private referenceMs = 0;
  /** The span of buckets that may be non-zero (first > last when empty). */
  private first = BUCKET_COUNT;
  private last = -1;

  constructor(private readonly halfLifeMs: number) {}

  isEmpty(): boolean {
    return this.totalWeight === 0;
  }

  add(cores: Cores, observedMs: number): void {
    if ((observedMs - this.referenceMs) / this.halfLifeMs > MAX_EXPONENT) this.moveReference(observedMs);
    const weight = 2 ** ((observedMs - this.referenceMs) / this.halfLifeMs);
    const bucket = bucketOf(cores);
    this.weights[bucket]! += weight;
    this.totalWeight += weight;
    if (bucket < this.first) this.first = bucket;
    if (bucket > this.last) this.last = bucket;
  }

  /** The value below which a share p of the weight lies (0 for an empty histogram), interpolated linearly within a bucket. */
  percentile(p: number): Cores {
    if (this.isEmpty()) return 0;
    const threshold = p * this.totalWeight;
    let below = 0;
    for (let bucket = this.first; bucket <= this.last; bucket++) {
      const weight = this.weights[bucket]!;
      if (weight === 0) continue;
      if (below + weight >= threshold) {
        const share = Math.min(1, Math.max(0, (threshold - below) / weight));
        return BOUNDARIES[bucket]! + share * (BOUNDARIES[bucket + 1]! - BOUNDARIES[bucket]!);
      }
      below += weight;
    }
    // Float32 rounding can leave the buckets' sum a hair below the total: the rest is at the top.
    return BOUNDARIES[this.last + 1]!;
  }

  toState(): HistogramState {
    const saved = { halfLifeMs: this.halfLifeMs, referenceMs: this.referenceMs, totalWeight: this.totalWeight };
    if (this.isEmpty()) return { ...saved, firstBucket: 0, weights: '' };
    const span = this.weights.subarray(this.first, this.last + 1);
    const bytes = new DataView(new ArrayBuffer(span.length * 4));
    span.forEach((weight, index) => bytes.setFloat32(index * 4, weight, true));
    let binary = '';
    for (let index = 0; index < bytes.byteLength; index++) binary += String.fromCharCode(bytes.getUint8(index));
    return { ...saved, firstBucket: this.first, weights: btoa(binary) };
  }

  /**
   * A histogram with `halfLifeMs` from a saved one. When the saved half-life differs (the policy
   * was edited), the reference moves so that a sample at `observedMs` weighs what it did: the
   * history keeps its weight now and decays at the new pace from here on.
   */
  static fromState(state: HistogramState, halfLifeMs: number, observedMs: number): Result<DecayingHistogram> {
    const { halfLifeMs: savedHalfLifeMs, referenceMs, totalWeight, firstBucket, weights } = state;
    if (
      !(savedHalfLifeMs > 0) ||
      !Number.isFinite(referenceMs) ||
      !(totalWeight >= 0) ||
      !Number.isFinite(totalWeight) ||
      !Number.isInteger(firstBucket) ||
      firstBucket < 0 ||
      typeof weights !== 'string'
    ) {
      return fail('the histogram needs halfLifeMs > 0, a finite referenceMs, a total weight ≥ 0, a bucket index and base64 weights');
    }
    let binary: string;
    try {
      binary = atob(weights);
    } catch {
      return fail('the histogram weights are not base64');
    }
    const count = binary.length / 4;
    if (!Number.isInteger(count) || firstBucket + count > BUCKET_COUNT || (count === 0) !== (totalWeight === 0)) {
      return fail(`the histogram weights must be whole float32 values within ${BUCKET_COUNT} buckets, and present exactly when the total weight is`);
    }
    const histogram = new DecayingHistogram(halfLifeMs);
    histogram.referenceMs = savedHalfLifeMs === halfLifeMs ? referenceMs : observedMs - ((observedMs - referenceMs) * halfLifeMs) / savedHalfLifeMs;
    histogram.totalWeight = totalWeight;
    const bytes = new DataView(new ArrayBuffer(binary.length));
    for (let index = 0; index < binary.length; index++) bytes.setUint8(index, binary.charCodeAt(index));
    for (let index = 0; index < count; index++) {
      const weight = bytes.getFloat32(index * 4, true);
      if (!(weight >= 0) || !Number.isFinite(weight)) return fail('the histogram weights must be finite and ≥ 0');
      histogram.weights[firstBucket + index] = weight;
    }
    histogram.findSpan();
    return ok(histogram);
  }

  private moveReference(observedMs: number): void {
    const halfLives = Math.floor((observedMs - this.referenceMs) / this.halfLifeMs);
    const scale = 2 ** -halfLives;
    this.referenceMs += halfLives * this.halfLifeMs;
    this.totalWeight *= scale;
    for (let bucket = this.first; bucket <= this.last; bucket++) {
      const weight = this.weights[bucket]! * scale;
      this.weights[bucket] = weight < this.totalWeight * NEGLIGIBLE ? 0 : weight;
    }
    this.findSpan();
  }

  private findSpan(): void {
    this.first = this.weights.findIndex((weight) => weight > 0);
    if (this.first === -1) this.first = BUCKET_COUNT;
    this.last = this.weights.findLastIndex((weight) => weight > 0);
  }
}
