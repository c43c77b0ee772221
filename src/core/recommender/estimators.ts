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

/** The upper bound widens as confidence falls: ×2 with no history, ×1 from full confidence on. */
export const widenedByDoubt = (value: number, confidence: number): number => value * (2 - confidence);

/** Memory needed after an OOM kill at `killedAt`: ×ratio, and at least +minBump. */
export const oomNeed = (killedAt: Bytes, ratio: number, minBump: Bytes): Bytes => Math.max(killedAt + minBump, killedAt * ratio);

/** A value clamped to [floor, cap], the cap winning when they conflict (a cap is never exceeded). */
const clamp = (value: number, floor: number, cap: number): number => Math.min(cap, Math.max(floor, value));

/** Cores → whole millicores (rounded up), within [floor, cap]. */
export function toMillicores(cores: Cores, floor: Millicores, cap: Millicores): Millicores {
  return clamp(Math.ceil(cores * 1000 - 1e-6), Math.ceil(floor), Math.floor(cap));
}

/** Bytes → whole MiB (rounded up, so requests read as `123Mi`), within [floor, cap]. */
export function toRequestBytes(bytes: Bytes, floor: Bytes, cap: Bytes): Bytes {
  return clamp(Math.ceil(bytes / MIB) * MIB, Math.ceil(floor), Math.floor(cap));
}

/** Whole millicores of a usage sample, rounded up (the recent-CPU ring's unit). */
export const usageMillicores = (cores: Cores): Millicores => Math.ceil(cores * 1000 - 1e-6);

/** Whole MiB of a usage sample, rounded up (the memory-peak ring's unit). */
export const usageMib = (bytes: Bytes): number => Math.ceil(bytes / MIB);
export const mibToBytes = (mib: number): Bytes => mib * MIB;
