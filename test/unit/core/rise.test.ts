import { expect } from 'chai';
import fc from 'fast-check';
import { RiseWatch } from '../../../src/core/activity/rise.ts';
import { earlyTickDelay } from '../../../src/core/early-tick.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';

const load = (workload: WorkloadKey, meanInFlight: number, held = 0) => ({ workload, meanInFlight, held });

describe('rises in load since the controller last read the report', () => {
  it('a doubling by two requests or more is a rise; less, or a doubling of one, is not', () => {
    const watch = new RiseWatch();
    watch.reportRead([load('shop/web', 4), load('shop/api', 1), load('shop/cart', 10)]);
    expect(watch.observe([load('shop/web', 7), load('shop/api', 2), load('shop/cart', 19)]), 'x1.75, +1, x1.9').to.equal(false);
    expect(watch.observe([load('shop/web', 8), load('shop/api', 2), load('shop/cart', 19)])).to.equal(true);
    expect(watch.answerFor(0)).to.deep.equal({ sequence: 1, workloads: ['shop/web'] });
  });

  it('counts what the activator holds as load, and a workload new to the report from zero', () => {
    const watch = new RiseWatch();
    watch.reportRead([load('shop/web', 1)]);
    expect(watch.observe([load('shop/web', 1, 2), load('shop/new', 2)])).to.equal(true);
    expect(watch.answerFor(0)?.workloads).to.deep.equal(['shop/web', 'shop/new']);
  });

  it('tells a rise once until the controller reads the report again, then measures from that report', () => {
    const watch = new RiseWatch();
    watch.reportRead([load('shop/web', 2)]);
    expect(watch.observe([load('shop/web', 5)])).to.equal(true);
    expect(watch.observe([load('shop/web', 9)]), 'the same workload, before a read').to.equal(false);
    expect(watch.answerFor(1), 'nothing new for a caller that saw sequence 1').to.equal(undefined);
    watch.reportRead([load('shop/web', 9)]);
    expect(watch.answerFor(0), 'read since: nothing left to tell').to.deep.equal({ sequence: 1, workloads: [] });
    expect(watch.observe([load('shop/web', 17)]), 'x1.9 of what was read').to.equal(false);
    expect(watch.observe([load('shop/web', 18)])).to.equal(true);
    expect(watch.answerFor(1)).to.deep.equal({ sequence: 2, workloads: ['shop/web'] });
  });

  it('a first question, or one from before the agent restarted, learns the sequence and no workloads', () => {
    const watch = new RiseWatch();
    watch.reportRead([]);
    watch.observe([load('shop/web', 5)]);
    expect(watch.answerFor(undefined)).to.deep.equal({ sequence: 1, workloads: [] });
    expect(watch.answerFor(7)).to.deep.equal({ sequence: 1, workloads: [] });
  });

  it('property: a load never more than the one read is never a rise', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), fc.nat(1000)), { minLength: 1, maxLength: 20 }), (pairs) => {
        const watch = new RiseWatch();
        const key = (i: number) => `ns/w${i}` as WorkloadKey;
        watch.reportRead(pairs.map(([read], i) => load(key(i), read)));
        return !watch.observe(pairs.map(([read, now], i) => load(key(i), Math.min(read, now))));
      }),
    );
  });
});

describe('when a tick asked for early runs', () => {
  const period = 2000;
  const times = (now: number, lastStartedAt: number, lastScheduledAt = lastStartedAt) => ({
    now,
    lastStartedAt,
    nextDueAt: lastScheduledAt + period,
    minGapMs: period / 4,
  });

  it('at once in the middle of the gap; not when the scheduled tick is due within a quarter period', () => {
    expect(earlyTickDelay(times(1000, 0))).to.equal(0);
    expect(earlyTickDelay(times(1500, 0))).to.equal(undefined);
    expect(earlyTickDelay(times(1900, 0))).to.equal(undefined);
  });

  it('a quarter period after the last tick started, scheduled or early', () => {
    expect(earlyTickDelay(times(100, 0))).to.equal(400);
    expect(earlyTickDelay(times(1000, 900, 0)), 'an early tick at 900').to.equal(400);
  });

  it('at once before the first tick', () => {
    expect(earlyTickDelay(times(5, NaN))).to.equal(0);
  });
});
