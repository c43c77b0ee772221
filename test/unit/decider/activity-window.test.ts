import { expect } from 'chai';
import fc from 'fast-check';
import { ActivityWindow } from '../../../src/core/decider/activity-window.ts';

const T0 = Date.UTC(2026, 5, 1, 12);
const WINDOWS = { stableWindowMs: 60_000, panicWindowMs: 6_000 };

/** Records `inFlight` every `everyMs` from T0 + everyMs up to and including T0 + untilMs. */
function feed(window: ActivityWindow, untilMs: number, inFlight: (atMs: number) => number, everyMs = 2000): void {
  for (let at = everyMs; at <= untilMs; at += everyMs) window.record({ at: T0 + at, inFlight: inFlight(at) });
}

describe('ActivityWindow', () => {
  it('holds nothing before the first sample', () => {
    expect(new ActivityWindow().snapshot(T0, WINDOWS)).to.deep.equal({
      latestSampleAt: undefined,
      stableInFlight: 0,
      panicInFlight: 0,
      peakInFlight: 0,
      requestRate: 0,
      lastRequestAt: undefined,
      observedSince: undefined,
    });
  });

  it('averages over the seconds that have samples: a report every 2 s is not half the load', () => {
    const window = new ActivityWindow();
    feed(window, 60_000, () => 10);
    const snapshot = window.snapshot(T0 + 60_000, WINDOWS);
    expect(snapshot.stableInFlight).to.equal(10);
    expect(snapshot.panicInFlight).to.equal(10);
  });

  it('averages the stable window over 60 s and the panic window over the last 6 s', () => {
    const window = new ActivityWindow();
    // 27 samples of 0, then 3 of 30 (at 56, 58 and 60 s)
    feed(window, 60_000, (at) => (at > 54_000 ? 30 : 0));
    const snapshot = window.snapshot(T0 + 60_000, WINDOWS);
    expect(snapshot.stableInFlight).to.equal(3);
    expect(snapshot.panicInFlight).to.equal(30);
  });

  it('leaves samples older than the window out of the averages', () => {
    const window = new ActivityWindow();
    feed(window, 62_000, (at) => (at <= 60_000 ? 100 : 20));
    expect(window.snapshot(T0 + 62_000, WINDOWS).stableInFlight).to.equal((29 * 100 + 20) / 30);
    feed(window, 120_000, (at) => (at <= 60_000 ? 100 : 20));
    expect(window.snapshot(T0 + 120_000, WINDOWS).stableInFlight).to.equal(20);
  });

  it('averages the samples within a second first, so a chatty second weighs as much as a quiet one', () => {
    const window = new ActivityWindow();
    window.record({ at: T0 + 1000, inFlight: 10 });
    window.record({ at: T0 + 1500, inFlight: 20 });
    window.record({ at: T0 + 2000, inFlight: 30 });
    expect(window.snapshot(T0 + 2000, WINDOWS).stableInFlight).to.equal(22.5);
  });

  it('reports the peak in flight of the panic window', () => {
    const window = new ActivityWindow();
    window.record({ at: T0 + 1000, inFlight: 50 });
    window.record({ at: T0 + 6000, inFlight: 0 });
    expect(window.snapshot(T0 + 6000, WINDOWS).peakInFlight).to.equal(50);
    window.record({ at: T0 + 10_000, inFlight: 7 });
    window.record({ at: T0 + 10_500, inFlight: 9 });
    window.record({ at: T0 + 12_000, inFlight: 0 });
    expect(window.snapshot(T0 + 12_000, WINDOWS).peakInFlight).to.equal(9);
  });

  it('falls back to the newest sample for a window without samples', () => {
    const window = new ActivityWindow();
    window.record({ at: T0, inFlight: 4 });
    const snapshot = window.snapshot(T0 + 20_000, WINDOWS);
    expect(snapshot.panicInFlight).to.equal(4);
    expect(snapshot.latestSampleAt).to.equal(T0);
  });

  it('keeps the latest last request, even when a restarted interceptor forgets it', () => {
    const window = new ActivityWindow();
    window.record({ at: T0 + 2000, inFlight: 0, lastRequestAt: T0 + 1500 });
    window.record({ at: T0 + 4000, inFlight: 0, lastRequestAt: T0 + 3100 });
    window.record({ at: T0 + 6000, inFlight: 2 });
    window.record({ at: T0 + 8000, inFlight: 0, lastRequestAt: T0 - 50_000 });
    const snapshot = window.snapshot(T0 + 8000, WINDOWS);
    expect(snapshot.lastRequestAt).to.equal(T0 + 3100);
    expect(snapshot.observedSince).to.equal(T0 + 2000);
  });

  it('starts from a last request known from before it existed', () => {
    const window = new ActivityWindow({ lastRequestAt: T0 - 3_600_000 });
    window.record({ at: T0, inFlight: 0 });
    expect(window.snapshot(T0, WINDOWS).lastRequestAt).to.equal(T0 - 3_600_000);
  });

  it('averages the request rate over the stable window', () => {
    const window = new ActivityWindow();
    feed(window, 120_000, () => 0);
    window.record({ at: T0 + 120_000, inFlight: 0, requestRate: 30 });
    // 30 seconds with samples in the last 60 s: 29 at rate 0, and one with 0 and 30 (mean 15)
    expect(window.snapshot(T0 + 120_000, WINDOWS).requestRate).to.equal(0.5);
  });

  it('reuses its slots: memory is the horizon, one bucket per second', () => {
    const window = new ActivityWindow({ horizonMs: 10_000 });
    window.record({ at: T0, inFlight: 100 });
    window.record({ at: T0 + 10_000, inFlight: 1 }); // same slot as T0, ten seconds later
    const snapshot = window.snapshot(T0 + 10_000, { stableWindowMs: 10_000, panicWindowMs: 10_000 });
    expect(snapshot.stableInFlight).to.equal(1);
    expect(snapshot.peakInFlight).to.equal(1);
  });

  it('refuses samples older than the horizon and malformed ones', () => {
    const window = new ActivityWindow({ horizonMs: 10_000 });
    expect(window.record({ at: T0 + 20_000, inFlight: 1 })).to.equal(true);
    expect(window.record({ at: T0 + 10_000, inFlight: 500 })).to.equal(false);
    expect(window.record({ at: T0 + 15_000, inFlight: 3 })).to.equal(true); // late, within the horizon
    expect(window.record({ at: T0 + 21_000, inFlight: -1 })).to.equal(false);
    expect(window.record({ at: T0 + 21_000, inFlight: Number.NaN })).to.equal(false);
    expect(window.record({ at: T0 + 21_000, inFlight: 1, requestRate: Infinity })).to.equal(false);
    const snapshot = window.snapshot(T0 + 20_000, { stableWindowMs: 10_000, panicWindowMs: 10_000 });
    expect(snapshot.stableInFlight).to.equal(2);
    expect(snapshot.latestSampleAt).to.equal(T0 + 20_000);
  });

  it('refuses a window longer than its horizon', () => {
    const window = new ActivityWindow({ horizonMs: 30_000 });
    expect(() => window.snapshot(T0, WINDOWS)).to.throw(RangeError, '60000 ms window');
  });

  it('answers, for any samples in time order and any two windows, what the samples say second by second', () => {
    const HORIZON_S = 60;
    const sample = fc.record({
      gapMs: fc.integer({ min: 0, max: 3000 }),
      inFlight: fc.integer({ min: 0, max: 100 }),
      requestRate: fc.integer({ min: 0, max: 50 }),
    });
    fc.assert(
      fc.property(
        fc.array(sample, { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 1, max: HORIZON_S }),
        fc.integer({ min: 1, max: HORIZON_S }),
        (gaps, lateMs, stableS, panicS) => {
          const window = new ActivityWindow({ horizonMs: HORIZON_S * 1000 });
          let at = T0;
          const samples = gaps.map(({ gapMs, inFlight, requestRate }) => ({ at: (at += gapMs), inFlight, requestRate }));
          for (const recorded of samples) expect(window.record(recorded)).to.equal(true);
          const now = at + lateMs;
          const snapshot = window.snapshot(now, { stableWindowMs: stableS * 1000, panicWindowMs: panicS * 1000 });

          // Each second's samples; a second's slot is taken over by a later second HORIZON_S apart.
          const bySecond = new Map<number, typeof samples>();
          for (const recorded of samples) {
            const second = Math.floor(recorded.at / 1000);
            bySecond.set(second, [...(bySecond.get(second) ?? []), recorded]);
          }
          const seconds = [...bySecond.keys()];
          const kept = seconds.filter((second) => !seconds.some((later) => later > second && (later - second) % HORIZON_S === 0));
          const newest = Math.floor(now / 1000);
          const inWindow = (windowS: number) => kept.filter((second) => second <= newest && second > newest - windowS);
          const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
          const latest = samples.at(-1)!;
          const windowMean = (windowS: number, figure: 'inFlight' | 'requestRate') => {
            const inside = inWindow(windowS);
            return inside.length === 0 ? latest[figure] : mean(inside.map((second) => mean(bySecond.get(second)!.map((s) => s[figure]))));
          };
          const panicPeak = Math.max(latest.inFlight, ...inWindow(panicS).flatMap((second) => bySecond.get(second)!.map((s) => s.inFlight)));

          expect(snapshot.stableInFlight).to.be.closeTo(windowMean(stableS, 'inFlight'), 1e-9);
          expect(snapshot.panicInFlight).to.be.closeTo(windowMean(panicS, 'inFlight'), 1e-9);
          expect(snapshot.requestRate).to.be.closeTo(windowMean(stableS, 'requestRate'), 1e-9);
          expect(snapshot.peakInFlight).to.equal(panicPeak);
          expect(snapshot.latestSampleAt).to.equal(latest.at);
          expect(snapshot.observedSince).to.equal(samples[0]!.at);
        },
      ),
      { numRuns: 300 },
    );
  });
});
