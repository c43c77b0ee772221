import { expect } from 'chai';
import { nextLeaseAction, observe, type LeaseRecord } from '../../../src/core/leader-election.ts';

const lease = (holder: string, renewedAt: number): LeaseRecord => ({ holder, leaseDurationMs: 15_000, acquiredAt: 0, renewedAt, transitions: 3 });

describe('leader election decisions', () => {
  it('creates the lease when there is none', () => {
    expect(nextLeaseAction(undefined, 'a', 1000, 15_000)).to.deep.equal({
      kind: 'create',
      record: { holder: 'a', leaseDurationMs: 15_000, acquiredAt: 1000, renewedAt: 1000, transitions: 0 },
    });
  });

  it('renews its own lease, keeping the acquisition time', () => {
    const action = nextLeaseAction({ record: lease('a', 500), observedAt: 500 }, 'a', 2000, 15_000);
    expect(action).to.deep.equal({ kind: 'renew', record: { ...lease('a', 2000) } });
  });

  it("waits while another holder's lease is fresh by the local clock of its last change", () => {
    // The holder's renewTime is far in the past (skewed clock) but we saw it change at 10 000.
    const action = nextLeaseAction({ record: lease('b', -1e9), observedAt: 10_000 }, 'a', 24_999, 15_000);
    expect(action).to.deep.equal({ kind: 'wait', holder: 'b', expiresAt: 25_000 });
  });

  it('takes an expired lease and counts the transition', () => {
    const action = nextLeaseAction({ record: lease('b', 0), observedAt: 10_000 }, 'a', 25_000, 15_000);
    expect(action).to.deep.equal({ kind: 'take', record: { holder: 'a', leaseDurationMs: 15_000, acquiredAt: 25_000, renewedAt: 25_000, transitions: 4 } });
  });

  it('takes a released lease (empty holder) at once', () => {
    expect(nextLeaseAction({ record: lease('', 0), observedAt: 10_000 }, 'a', 10_001, 15_000).kind).to.equal('take');
  });

  it('keeps the first sighting of an unchanged record and resets it on change', () => {
    const first = observe(undefined, lease('b', 1), 100);
    expect(observe(first, lease('b', 1), 900).observedAt).to.equal(100);
    expect(observe(first, lease('b', 2), 900).observedAt).to.equal(900);
    expect(observe(first, lease('c', 1), 900).observedAt).to.equal(900);
  });
});
