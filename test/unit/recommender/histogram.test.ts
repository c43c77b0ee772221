import { expect } from 'chai';
import { BUCKET_COUNT, DecayingHistogram } from '../../../src/core/recommender/histogram.ts';
import { PeakRing } from '../../../src/core/recommender/peak-ring.ts';

const HALF_LIFE_MS = 600_000;
/** Where a percentile that falls among samples of `value` can be read: anywhere in its 10 % bucket. */
const around = (value: number): [number, number] => [value / 1.1, value * 1.1];

describe('DecayingHistogram', () => {
  it('reads percentiles within 10 % buckets, interpolated', () => {
    const histogram = new DecayingHistogram(HALF_LIFE_MS);
    expect(histogram.percentile(0.5)).to.equal(0);
    for (let index = 0; index < 100; index++) histogram.add(index < 50 ? 0.1 : 1, 0);
    expect(histogram.percentile(0.25)).to.be.within(...around(0.1));
    expect(histogram.percentile(0.75)).to.be.within(...around(1));
    expect(histogram.percentile(0.5)).to.be.below(histogram.percentile(0.51));
    expect(histogram.percentile(1)).to.be.within(...around(1));
  });

  it('weighs a sample one half-life older half as much', () => {
    const histogram = new DecayingHistogram(HALF_LIFE_MS);
    for (let index = 0; index < 100; index++) histogram.add(1, 0);
    for (let index = 0; index < 100; index++) histogram.add(0.1, HALF_LIFE_MS);
    // 100 old samples weigh as much as 50 new ones: the median is among the new.
    expect(histogram.percentile(0.6)).to.be.within(...around(0.1));
    expect(histogram.percentile(0.7)).to.be.within(...around(1));
  });

  it('keeps its percentiles across hundreds of half-lives, and forgets what no longer counts', () => {
    const histogram = new DecayingHistogram(HALF_LIFE_MS);
    histogram.add(5, 0);
    for (let at = 0; at < 300 * HALF_LIFE_MS; at += 60_000) histogram.add(at % 120_000 === 0 ? 0.2 : 0.4, at);
    expect(histogram.percentile(0.25)).to.be.within(...around(0.2));
    expect(histogram.percentile(0.75)).to.be.within(...around(0.4));
    expect(histogram.percentile(1), 'the one 5-core sample is long forgotten').to.be.within(...around(0.4));
    expect(atob(histogram.toState().weights).length / 4, 'only the buckets still in use are saved').to.be.below(10);
  });

  it("restores exactly, and under a new half-life keeps today's weights", () => {
    const histogram = new DecayingHistogram(HALF_LIFE_MS);
    for (let at = 0; at < 10 * HALF_LIFE_MS; at += 60_000) histogram.add(0.05 + (at % 7) / 10, at);
    const state = histogram.toState();
    const same = DecayingHistogram.fromState(state, HALF_LIFE_MS, 10 * HALF_LIFE_MS);
    const slower = DecayingHistogram.fromState(state, 4 * HALF_LIFE_MS, 10 * HALF_LIFE_MS);
    if (!same.ok || !slower.ok) throw new Error('expected both to restore');
    expect(same.value.toState()).to.deep.equal(state);
    for (const p of [0.1, 0.5, 0.9]) expect(slower.value.percentile(p)).to.equal(histogram.percentile(p));
    // A new sample now weighs what it would have weighed before the edit.
    histogram.add(3, 10 * HALF_LIFE_MS);
    slower.value.add(3, 10 * HALF_LIFE_MS);
    expect(slower.value.percentile(0.99)).to.be.closeTo(histogram.percentile(0.99), 1e-9);
    expect(BUCKET_COUNT).to.equal(110);
  });
});

describe('PeakRing', () => {
  it('keeps the highest value per slot for the last N slots, emptying the slots time skips', () => {
    const ring = new PeakRing(3, 1000);
    ring.record(0, 5);
    ring.record(500, 7);
    ring.record(1000, 2);
    expect([ring.peakAt(0), ring.peakAt(1), ring.max()]).to.deep.equal([7, 2, 7]);
    ring.record(3500, 1);
    expect([ring.holds(0), ring.peakAt(1), ring.peakAt(2), ring.peakAt(3), ring.max()]).to.deep.equal([false, 2, undefined, 1, 2]);
    ring.record(900, 100);
    expect(ring.max(), 'a slot older than the ring is ignored').to.equal(2);
  });

  it('reads quantiles by nearest rank over the slots that hold a peak', () => {
    const ring = new PeakRing(5, 1);
    expect(ring.quantile(0.5)).to.equal(undefined);
    for (const [slot, value] of [
      [0, 40],
      [1, 10],
      [2, 30],
      [4, 20],
    ] as const)
      ring.record(slot, value);
    expect([ring.quantile(0.25), ring.quantile(0.5), ring.quantile(0.6), ring.quantile(1)]).to.deep.equal([10, 20, 30, 40]);
  });

  it('re-slots a saved ring into other slots and sizes, keeping each peak where its slot started', () => {
    const ring = new PeakRing(6, 1000);
    for (let slot = 0; slot < 8; slot++) ring.record(slot * 1000, 10 + slot);
    const state = ring.toState();
    const coarser = PeakRing.fromState(state, 3, 2000);
    if (!coarser.ok) throw new Error(coarser.error);
    expect([coarser.value.peakAt(1), coarser.value.peakAt(2), coarser.value.peakAt(3)]).to.deep.equal([13, 15, 17]);
    const same = PeakRing.fromState(state, 6, 1000);
    expect(same.ok && same.value.toState()).to.deep.equal(state);
  });
});
