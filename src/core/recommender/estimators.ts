// The small steps a recommendation is made of, each a pure function of numbers in named units
// (the VPA's WithMargin / WithConfidenceMultiplier idea): the recommender reads as their composition.
import type { Bytes, Cores, Millicores } from './units.ts';

const MIB = 2 ** 20;

/** `value` plus a margin: 0.1 → +10 %. */
export const withMargin = (value: number, margin: number): number => value * (1 + margin);

/**
 * How much of the history needed to trust a decrease has been observed, 0..1 (1 when no history
 * is needed).
 */
export const confidenceOf = (observedMs: number, neededMs: number): number => (neededMs <= 0 ? 1 : Math.min(1, observedMs / neededMs));

/** A value widened by the doubt of a short history: ×2 with none, ×1 from full confidence on. */
export const widenedByDoubt = (value: number, confidence: number): number => value * (2 - confidence);

/** Memory needed after an OOM kill at `killedAt`: ×ratio, and at least +minBump. */
export const oomNeed = (killedAt: Bytes, ratio: number, minBump: Bytes): Bytes => Math.ceil(Math.max(killedAt + minBump, killedAt * ratio));

/** A value clamped to [floor, cap], the cap winning when they conflict (a cap is never exceeded). */
const clamp = (value: number, floor: number, cap: number): number => Math.min(cap, Math.max(floor, value));

/** Cores → whole millicores (rounded up), within [floor, cap]. */
export function toMillicores(cores: Cores, floor: Millicores, cap: Millicores): Millicores {
  return clamp(millicoresOf(cores), Math.ceil(floor), Math.floor(cap));
}

/** Bytes → whole MiB (rounded up, so requests read as `123Mi`), within [floor, cap]. */
export function toRequestBytes(bytes: Bytes, floor: Bytes, cap: Bytes): Bytes {
  return clamp(Math.ceil(bytes / MIB) * MIB, Math.ceil(floor), Math.floor(cap));
}

/** A recommendation's three values, in request units. */
export interface RequestRange {
  lower: number;
  target: number;
  upper: number;
}

/**
 * Estimates (cores or bytes) → requests: each gets the margin, the target and upper bound also
 * the doubt of a short history, then `toRequest` rounds and bounds them (toMillicores or
 * toRequestBytes with the floor and cap in place); lower ≤ target ≤ upper.
 */
export function requestRange(estimates: RequestRange, margin: number, confidence: number, toRequest: (value: number) => number): RequestRange {
  const lower = toRequest(withMargin(estimates.lower, margin));
  const target = toRequest(withMargin(widenedByDoubt(estimates.target, confidence), margin));
  const upper = toRequest(withMargin(widenedByDoubt(estimates.upper, confidence), margin));
  return { lower: Math.min(lower, target), target, upper: Math.max(upper, target) };
}

/** Whole millicores, rounded up. */
const millicoresOf = (cores: Cores): Millicores => Math.max(0, Math.ceil(cores * 1000 - 1e-6));

/** Whole millicores of a usage sample (the recent-CPU rings' unit), rounded up, at most `maxCores`. */
export const usageMillicores = (cores: Cores, maxCores: Cores): Millicores => millicoresOf(Math.min(cores, maxCores));

/** Whole MiB of a usage sample, rounded up (the memory-peak ring's unit). */
export const usageMib = (bytes: Bytes): number => Math.ceil(bytes / MIB);
export const mibToBytes = (mib: number): Bytes => mib * MIB;
