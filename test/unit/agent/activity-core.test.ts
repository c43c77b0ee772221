import { expect } from 'chai';
import fc from 'fast-check';
import { aggregateByWorkload } from '../../../src/core/activity/aggregate.ts';
import { ConcurrencyMeter } from '../../../src/core/activity/concurrency.ts';
import { SampleWindow, type CounterSample } from '../../../src/core/activity/window.ts';

describe('ConcurrencyMeter', () => {
  it('counts each request out exactly once, whatever the order and repetition of releases', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant('enter' as const), fc.nat(30)), { maxLength: 200 }), (steps) => {
        const meter = new ConcurrencyMeter(0);
        const releases: ((now: number) => void)[] = [];
        const released = new Set<number>();
        let now = 0;
        for (const step of steps) {
          now += 1;
          if (step === 'enter') releases.push(meter.enter(now));
          else if (releases.length > 0) {
            const index = step % releases.length;
            releases[index]?.(now);
            released.add(index);
          }
          const snapshot = meter.snapshot(now);
          expect(snapshot.inFlight).to.equal(releases.length - released.size);
          expect(snapshot.requests).to.equal(released.size);
        }
      }),
    );
  });

  it('integrates in-flight over time (request·ms) and ignores a clock that steps back', () => {
    const meter = new ConcurrencyMeter(0);
    const a = meter.enter(0);
    meter.enter(100);
    a(300);
    expect(meter.snapshot(300).inFlightMsTotal).to.equal(100 + 2 * 200);
    expect(meter.snapshot(400).inFlightMsTotal).to.equal(500 + 100);
    meter.enter(200); // clock stepped back: no negative area
    expect(meter.snapshot(300).inFlightMsTotal).to.equal(500);
  });
});

function sample(receivedAt: number, requests: number, inFlightMsTotal: number, startedAt = 1, inFlight = 0): CounterSample {
  return { receivedAt, uptimeMs: receivedAt, startedAt, inFlight, requests, inFlightMsTotal, lastRequestAt: requests > 0 ? 1_000 + receivedAt : null };
}

describe('SampleWindow', () => {
  it('derives rate and mean concurrency from cumulative counters over the window, stepped with now', () => {
    const window = new SampleWindow(2_000);
    for (let t = 0; t <= 5_000; t += 1_000) window.add(sample(t, t / 10, t * 3)); // 100 req/s, 3 in flight
    const figures = window.figures(5_000);
    expect(figures?.requestRate).to.be.closeTo(100, 1e-9);
    expect(figures?.meanInFlight).to.be.closeTo(3, 1e-9);
  });

  it('only looks at the window: older traffic does not dilute the rate', () => {
    const window = new SampleWindow(2_000);
    window.add(sample(0, 0, 0));
    window.add(sample(1_000, 1_000, 0)); // a burst long ago
    window.add(sample(2_000, 1_000, 0));
    window.add(sample(3_000, 1_000, 0));
    expect(window.figures(3_000)?.requestRate).to.equal(0);
  });

  it('starts a new series when the interceptor restarts (counters went back to zero)', () => {
    const window = new SampleWindow(10_000);
    window.add(sample(0, 500, 0));
    window.add(sample(1_000, 600, 0));
    window.add(sample(2_000, 5, 0, 2));
    expect(window.figures(2_000)?.requestRate).to.equal(0);
    window.add(sample(3_000, 15, 0, 2));
    expect(window.figures(3_000)?.requestRate).to.equal(10);
  });
});

describe('aggregateByWorkload', () => {
  it('sums pods per workload and keeps a stale pod’s last figures, flagged, instead of zero', () => {
    const figures = { inFlight: 2, meanInFlight: 1.5, requestRate: 10, lastRequestAt: 100 };
    const result = aggregateByWorkload(
      [
        { pod: 'shop/a', workload: 'shop/app', stale: false, scrapedAt: 5, figures },
        { pod: 'shop/b', workload: 'shop/app', stale: true, scrapedAt: 4, figures: { ...figures, lastRequestAt: 200 } },
        { pod: 'shop/c', workload: 'shop/app', stale: true, scrapedAt: null, figures: undefined },
      ],
      new Map([['shop/idle', 3]]),
    );
    expect(result.map((w) => w.workload)).to.deep.equal(['shop/app', 'shop/idle']);
    expect(result[0]).to.include({ inFlight: 4, meanInFlight: 3, requestRate: 20, lastRequestAt: 200, stalePods: 2 });
    expect(result[1]).to.include({ held: 3, inFlight: 0 });
  });
});
