import { expect } from 'chai';
import {
  compareWithStatus,
  nextStatus,
  readStatus,
  statusFields,
  statusRefreshMs,
  STATUS_REFRESH_MS,
  STATUS_REFRESH_SPREAD_MS,
} from '../../../src/core/status.ts';
import { recommendationFromStatus, type StatusRecommendation } from '../../../src/core/recommendation.ts';
import type { Decision } from '../../../src/core/decider/index.ts';

const decision = (desiredReplicas: number | null, code: Decision['reason']['code'], message: string): Decision => ({
  desiredReplicas,
  reason: { code, message },
  state: {},
});

describe('the ebb.dev/status annotation', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');

  it('is written for a new decision, and keeps fields written by others (the recommendation)', () => {
    const current = JSON.stringify({
      recommendation: { containers: { app: { cpu: '250m' } } },
      desiredReplicas: 1,
      reason: 'steady',
      updatedAt: new Date(now - 1000).toISOString(),
    });
    const text = nextStatus(current, statusFields(decision(5, 'load', '1 → 5: 42 in flight, target 10 per pod'), now - 500, now), now);
    expect(JSON.parse(text!)).to.deep.equal({
      recommendation: { containers: { app: { cpu: '250m' } } },
      desiredReplicas: 5,
      reason: 'load',
      message: '1 → 5: 42 in flight, target 10 per pod',
      lastRequestAt: '2026-11-21T09:59:59.500Z',
      inFlight: null,
      updatedAt: '2026-11-21T10:00:00.000Z',
    });
  });

  it('is not rewritten for the same decision within the refresh period, even if the message moves', () => {
    const first = nextStatus(undefined, statusFields(decision(5, 'steady', 'holding 5: 41 in flight'), now, now), now)!;
    expect(nextStatus(first, statusFields(decision(5, 'steady', 'holding 5: 44 in flight'), now + 2000, now + 2000), now + 2000)).to.equal(undefined);
    expect(
      nextStatus(first, statusFields(decision(5, 'steady', 'holding 5: 44 in flight'), now + 2000, now + STATUS_REFRESH_MS), now + STATUS_REFRESH_MS),
    ).to.be.a('string');
  });

  it('replaces an unreadable annotation', () => {
    expect(JSON.parse(nextStatus('{oops', statusFields(decision(0, 'idle', 'idle'), undefined, now), now)!)).to.include({ desiredReplicas: 0, reason: 'idle' });
  });

  it('says at once when whether ebb sees the traffic changes, and not again while it does not', () => {
    const steady = decision(1, 'steady', 'holding 1');
    const withTraffic = (traffic: string, at: number) => statusFields(steady, undefined, at, { traffic });
    const unobserved = 'not observed: Service shop/web targets port 8080 by number';
    const first = nextStatus(undefined, withTraffic('observed', now), now)!;
    const warned = nextStatus(first, withTraffic(unobserved, now + 2000), now + 2000);
    expect(JSON.parse(warned!)).to.include({ traffic: unobserved, reason: 'steady' });
    expect(nextStatus(warned, withTraffic(unobserved, now + 4000), now + 4000)).to.equal(undefined);
    expect(JSON.parse(nextStatus(warned, withTraffic('observed', now + 6000), now + 6000)!)).to.include({ traffic: 'observed' });
  });

  it('refreshes an unchanged decision after the interval it is given: each workload its own, within the spread', () => {
    const first = nextStatus(undefined, statusFields(decision(5, 'steady', 'holding 5: 41 in flight'), now, now), now)!;
    const at = (ms: number) => nextStatus(first, statusFields(decision(5, 'steady', 'holding 5: 44 in flight'), now, now + ms), now + ms, 0.1, 75_000);
    expect(at(74_999)).to.equal(undefined);
    expect(at(75_000)).to.be.a('string');
    const intervals = Array.from({ length: 1000 }, (_, i) => statusRefreshMs(`bench-${i % 10}/app-${i}`));
    expect(Math.min(...intervals)).to.be.at.least(STATUS_REFRESH_MS);
    expect(Math.max(...intervals)).to.be.at.most(STATUS_REFRESH_MS + STATUS_REFRESH_SPREAD_MS);
    expect(statusRefreshMs('shop/web'), 'fixed per workload').to.equal(statusRefreshMs('shop/web'));
    // Spread: every tenth of the spread holds some of 1,000 workloads, none more than a fifth.
    const tenths = new Map<number, number>();
    for (const interval of intervals) {
      const tenth = Math.min(9, Math.floor(((interval - STATUS_REFRESH_MS) / STATUS_REFRESH_SPREAD_MS) * 10));
      tenths.set(tenth, (tenths.get(tenth) ?? 0) + 1);
    }
    expect(tenths.size).to.equal(10);
    expect(Math.max(...tenths.values())).to.be.below(200);
  });

  describe('with a recommendation', () => {
    const recommendation = (cpu: string, memory: string): StatusRecommendation => ({
      containers: { app: { cpu, memory, lower: { cpu: '10m', memory: '16Mi' }, upper: { cpu: '1', memory: '1Gi' }, confidence: 0.5 } },
    });
    const steady = decision(2, 'steady', 'holding 2');

    it('writes it where the webhook reads the targets', () => {
      const text = nextStatus(undefined, statusFields(steady, undefined, now, { recommendation: recommendation('250m', '300Mi') }), now)!;
      expect(recommendationFromStatus(text)).to.deep.equal({ app: { cpuMillis: 250, memoryBytes: 300 * 2 ** 20, memoryUpperBytes: 2 ** 30 } });
    });

    it('writes at once when a target moves by more than the tolerance, and not for a drift within it', () => {
      const first = nextStatus(undefined, statusFields(steady, undefined, now, { recommendation: recommendation('250m', '300Mi') }), now)!;
      expect(nextStatus(first, statusFields(steady, undefined, now + 2000, { recommendation: recommendation('270m', '300Mi') }), now + 2000, 0.1)).to.equal(
        undefined,
      );
      const moved = nextStatus(first, statusFields(steady, undefined, now + 2000, { recommendation: recommendation('300m', '300Mi') }), now + 2000, 0.1);
      expect(recommendationFromStatus(moved)).to.deep.equal({ app: { cpuMillis: 300, memoryBytes: 300 * 2 ** 20, memoryUpperBytes: 2 ** 30 } });
    });

    it('brings a drift within the tolerance up to date at the next refresh', () => {
      const first = nextStatus(undefined, statusFields(steady, undefined, now, { recommendation: recommendation('250m', '300Mi') }), now)!;
      const later = now + STATUS_REFRESH_MS;
      expect(
        recommendationFromStatus(nextStatus(first, statusFields(steady, undefined, later, { recommendation: recommendation('260m', '300Mi') }), later, 0.1)),
      ).to.deep.equal({
        app: { cpuMillis: 260, memoryBytes: 300 * 2 ** 20, memoryUpperBytes: 2 ** 30 },
      });
    });

    it('at the refresh, writes nothing for the same recommendation (a new object, its keys in another order), and writes one a sample newer', () => {
      const first = nextStatus(undefined, statusFields(steady, undefined, now, { recommendation: recommendation('250m', '300Mi') }), now)!;
      const later = now + STATUS_REFRESH_MS;
      const { cpu, memory, lower, upper, confidence } = recommendation('250m', '300Mi').containers.app!;
      const reordered: StatusRecommendation = { containers: { app: { upper, lower, confidence, memory, cpu } } };
      expect(nextStatus(first, statusFields(steady, undefined, later, { recommendation: reordered }), later, 0.1)).to.equal(undefined);
      const newer: StatusRecommendation = { containers: { app: { ...reordered.containers.app!, newestSample: new Date(later).toISOString() } } };
      expect(JSON.parse(nextStatus(first, statusFields(steady, undefined, later, { recommendation: newer }), later, 0.1)!)).to.deep.include({
        recommendation: newer,
      });
    });

    it('keeps the recommendation it has when the decision is written without one', () => {
      const first = nextStatus(undefined, statusFields(steady, undefined, now, { recommendation: recommendation('250m', '300Mi') }), now)!;
      const next = nextStatus(first, statusFields(decision(4, 'load', '2 → 4'), undefined, now + 10, undefined), now + 10)!;
      expect(recommendationFromStatus(next)).to.deep.equal({ app: { cpuMillis: 250, memoryBytes: 300 * 2 ** 20, memoryUpperBytes: 2 ** 30 } });
    });

    it('compares one recommendation, tick after tick, against whichever annotation is current (its comparison is remembered, never reused for another)', () => {
      const published = recommendation('300m', '300Mi');
      const at250 = nextStatus(undefined, statusFields(steady, undefined, now, { recommendation: recommendation('250m', '300Mi') }), now)!;
      const at290 = nextStatus(undefined, statusFields(steady, undefined, now, { recommendation: recommendation('290m', '300Mi') }), now)!;
      for (let tick = 1; tick <= 3; tick++) {
        const at = now + tick * 2000;
        expect(nextStatus(at250, statusFields(steady, undefined, at, { recommendation: published }), at, 0.1), `moved, tick ${tick}`).to.be.a('string');
        expect(nextStatus(at290, statusFields(steady, undefined, at, { recommendation: published }), at, 0.1), `within the tolerance, tick ${tick}`).to.equal(
          undefined,
        );
        expect(
          nextStatus(at250, statusFields(steady, undefined, at, { recommendation: published }), at, 0.5),
          `within a wider tolerance, tick ${tick}`,
        ).to.equal(undefined);
      }
    });

    it('decides the same when the sizing round compared the recommendation first, whatever annotation it compared with', () => {
      const at250 = nextStatus(undefined, statusFields(steady, undefined, now, { recommendation: recommendation('250m', '300Mi') }), now)!;
      const at290 = nextStatus(undefined, statusFields(steady, undefined, now, { recommendation: recommendation('290m', '300Mi') }), now)!;
      const published = recommendation('300m', '300Mi');
      compareWithStatus(at290, published, 0.1);
      expect(nextStatus(at290, statusFields(steady, undefined, now + 2000, { recommendation: published }), now + 2000, 0.1)).to.equal(undefined);
      // Compared with another annotation, or another tolerance, than the tick's: the tick compares again.
      expect(nextStatus(at250, statusFields(steady, undefined, now + 2000, { recommendation: published }), now + 2000, 0.1)).to.be.a('string');
      compareWithStatus(at250, published, 0.5);
      expect(nextStatus(at250, statusFields(steady, undefined, now + 4000, { recommendation: published }), now + 4000, 0.1)).to.be.a('string');
    });
  });

  it("says at once what waits for the workload's pods, and when nothing does any more", () => {
    const steady = decision(2, 'steady', 'holding 2');
    const first = nextStatus(undefined, statusFields(steady, undefined, now, { pending: [] }), now)!;
    const waiting = ['pod shop/web-1 waits for the eviction rate limit (5/min)'];
    const next = nextStatus(first, statusFields(steady, undefined, now + 2000, { pending: waiting }), now + 2000);
    expect(JSON.parse(next!)).to.deep.include({ pending: waiting });
    expect(nextStatus(next, statusFields(steady, undefined, now + 4000, { pending: waiting }), now + 4000)).to.equal(undefined);
    expect(JSON.parse(nextStatus(next, statusFields(steady, undefined, now + 6000, { pending: [] }), now + 6000)!)).to.deep.include({ pending: [] });
  });

  it('carries the requests in flight the decision saw, to one decimal, without a write for that alone', () => {
    const loaded = (inFlight: number): Decision => ({ ...decision(2, 'steady', 'holding 2'), inFlight });
    const first = nextStatus(undefined, statusFields(loaded(3.14159), now - 1000, now), now)!;
    expect(JSON.parse(first)).to.include({ inFlight: 3.1 });
    expect(nextStatus(first, statusFields(loaded(7), now - 1000, now + 2000), now + 2000)).to.equal(undefined);
    expect(JSON.parse(nextStatus(first, statusFields(loaded(7), now - 1000, now + STATUS_REFRESH_MS), now + STATUS_REFRESH_MS)!)).to.include({ inFlight: 7 });
    // A decision without fresh data says it knows none, rather than leaving the old figure.
    expect(JSON.parse(nextStatus(first, statusFields(decision(null, 'no-data', 'no action: no data'), now - 1000, now + 2000), now + 2000)!)).to.include({
      inFlight: null,
    });
  });

  describe('read back', () => {
    it('keeps the fields of the right type and leaves the others out', () => {
      const text = JSON.stringify({
        desiredReplicas: null,
        reason: 'paused',
        message: 7,
        inFlight: '3',
        pending: ['one', 2],
        recommendation: { containers: {} },
      });
      expect(readStatus(text)).to.deep.equal({ desiredReplicas: null, reason: 'paused', pending: ['one'], recommendation: { containers: {} } });
    });

    it('is undefined for no annotation, unreadable JSON or a value that is not an object', () => {
      for (const text of [undefined, '', '{oops', '42', 'null']) expect(readStatus(text), String(text)).to.equal(undefined);
    });
  });
});
