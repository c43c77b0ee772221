import { expect } from 'chai';
import { nextStatus, statusFields, STATUS_REFRESH_MS } from '../../../src/core/status.ts';
import type { Decision } from '../../../src/core/decider/index.ts';

const decision = (desiredReplicas: number | null, code: Decision['reason']['code'], message: string): Decision => ({
  desiredReplicas,
  reason: { code, message },
  state: {},
});

describe('the ebb.dev/status annotation', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');

  it('is written for a new decision, and keeps fields written by others (the recommendation)', () => {
    const current = JSON.stringify({ recommendation: { containers: { app: { cpu: '250m' } } }, desiredReplicas: 1, reason: 'steady', updatedAt: new Date(now - 1000).toISOString() });
    const text = nextStatus(current, statusFields(decision(5, 'load', '1 → 5: 42 in flight, target 10 per pod'), now - 500, now), now);
    expect(JSON.parse(text!)).to.deep.equal({
      recommendation: { containers: { app: { cpu: '250m' } } },
      desiredReplicas: 5,
      reason: 'load',
      message: '1 → 5: 42 in flight, target 10 per pod',
      lastRequestAt: '2026-11-21T09:59:59.500Z',
      updatedAt: '2026-11-21T10:00:00.000Z',
    });
  });

  it('is not rewritten for the same decision within the refresh period, even if the message moves', () => {
    const first = nextStatus(undefined, statusFields(decision(5, 'steady', 'holding 5: 41 in flight'), now, now), now)!;
    expect(nextStatus(first, statusFields(decision(5, 'steady', 'holding 5: 44 in flight'), now + 2000, now + 2000), now + 2000)).to.equal(undefined);
    expect(nextStatus(first, statusFields(decision(5, 'steady', 'holding 5: 44 in flight'), now + 2000, now + STATUS_REFRESH_MS), now + STATUS_REFRESH_MS)).to.be.a('string');
  });

  it('replaces an unreadable annotation', () => {
    expect(JSON.parse(nextStatus('{oops', statusFields(decision(0, 'idle', 'idle'), undefined, now), now)!)).to.include({ desiredReplicas: 0, reason: 'idle' });
  });
});
