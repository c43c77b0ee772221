// The highest value seen in each of the last N slots of observed time: per-minute CPU peaks for
// the recent estimator, per-interval memory peaks for the memory target. A slot that saw no sample
// holds nothing. Values are whole numbers in the caller's unit (millicores, MiB), so a checkpoint
// carries them exactly in a few characters each.
import { fail, ok, type Result } from '../result.ts';
import type { ObservedMs } from './units.ts';

const EMPTY = -1;
/** More entries than any accepted config holds: a checkpoint with more is not one of ours. */
const MAX_ENTRIES = 1440;

/** The ring in a checkpoint: slot length, the newest slot's index, the peaks from the oldest slot held on (null = none). */
export interface PeakRingState {
  slotMs: number;
  newestSlot: number;
  peaks: (number | null)[];
}

/** Scratch space for quantiles, so that recommending for 10,000 containers allocates nothing here. */
let scratch = new Float64Array(64);

export class PeakRing {
  private readonly peaks: Float64Array;
  private newestSlot = -1;

  constructor(
    readonly size: number,
    readonly slotMs: number,
  ) {
    this.peaks = new Float64Array(size).fill(EMPTY);
  }

  slotOf(observedMs: ObservedMs): number {
    return Math.floor(observedMs / this.slotMs);
  }

  /** Records a value in its slot; an older slot than the ring holds is ignored. */
  record(observedMs: ObservedMs, value: number): void {
    const slot = this.slotOf(observedMs);
    this.advanceTo(slot);
    if (slot <= this.newestSlot - this.size) return;
    const index = slot % this.size;
    if (value > this.peaks[index]!) this.peaks[index] = value;
  }

  /** Makes `slot` the newest (if it is newer), emptying the slots it passes. */
  advanceTo(slot: number): void {
    if (slot <= this.newestSlot) return;
    const from = Math.max(this.newestSlot + 1, slot - this.size + 1);
    for (let cleared = from; cleared <= slot; cleared++) this.peaks[cleared % this.size] = EMPTY;
    this.newestSlot = slot;
  }

  /** The peak of a slot still held; undefined otherwise. */
  peakAt(slot: number): number | undefined {
    if (!this.holds(slot)) return undefined;
    const peak = this.peaks[slot % this.size]!;
    return peak === EMPTY ? undefined : peak;
  }

  /** Whether a slot is in the ring: not newer than the newest, not older than the ring's size. */
  holds(slot: number): boolean {
    return slot <= this.newestSlot && slot > this.newestSlot - this.size && slot >= 0;
  }

  /** The highest peak held; undefined when no slot holds one. */
  max(): number | undefined {
    let highest = EMPTY;
    for (let index = 0; index < this.size; index++) highest = Math.max(highest, this.peaks[index]!);
    return highest === EMPTY ? undefined : highest;
  }

  /**
   * The value at percentile p of the slots that hold a peak, by nearest rank (p = 1 is the
   * highest, 0.5 the median); undefined when no slot does.
   */
  quantile(p: number): number | undefined {
    if (scratch.length < this.size) scratch = new Float64Array(this.size);
    let count = 0;
    // Insertion sort into the scratch: at most a few dozen values, and no allocation.
    for (let slot = 0; slot < this.size; slot++) {
      const peak = this.peaks[slot]!;
      if (peak === EMPTY) continue;
      let index = count++;
      for (; index > 0 && scratch[index - 1]! > peak; index--) scratch[index] = scratch[index - 1]!;
      scratch[index] = peak;
    }
    return count === 0 ? undefined : scratch[Math.max(0, Math.ceil(p * count) - 1)];
  }

  toState(): PeakRingState {
    const peaks: (number | null)[] = [];
    for (let slot = Math.max(0, this.newestSlot - this.size + 1); slot <= this.newestSlot; slot++) peaks.push(this.peakAt(slot) ?? null);
    return { slotMs: this.slotMs, newestSlot: this.newestSlot, peaks };
  }

  /**
   * A ring of `size` slots of `slotMs` from a saved one, whose slot length and size may differ
   * (the policy was edited): each saved peak goes to the slot its start falls in.
   */
  static fromState(state: PeakRingState, size: number, slotMs: number): Result<PeakRing> {
    const { slotMs: savedSlotMs, newestSlot, peaks } = state;
    if (
      !(savedSlotMs > 0) ||
      !Number.isSafeInteger(newestSlot) ||
      newestSlot < -1 ||
      !Array.isArray(peaks) ||
      peaks.length > Math.min(MAX_ENTRIES, newestSlot + 1)
    ) {
      return fail(`peaks need slotMs > 0, the newest slot (a whole number ≥ -1) and at most one entry per slot up to it (${MAX_ENTRIES} at most)`);
    }
    const ring = new PeakRing(size, slotMs);
    const firstSlot = newestSlot - peaks.length + 1;
    for (const [offset, peak] of peaks.entries()) {
      if (peak === null) continue;
      if (!Number.isSafeInteger(peak) || peak < 0) return fail('each peak must be a whole number ≥ 0 or null');
      ring.record((firstSlot + offset) * savedSlotMs, peak);
    }
    if (newestSlot >= 0) ring.advanceTo(ring.slotOf(newestSlot * savedSlotMs));
    return ok(ring);
  }
}
