import { expect } from 'chai';
import { HoldLedger } from '../../../src/core/activity/hold-ledger.ts';
import { routeRequest, type SleepingService } from '../../../src/core/activity/route.ts';
import { WakeSchedule } from '../../../src/core/activity/wake-schedule.ts';

const limits = { maxRequestsPerWorkload: 3, maxBytesPerWorkload: 1_000, maxRequests: 4, maxBytes: 1_500, deadlineMs: 60_000 };

describe('HoldLedger', () => {
  it('refuses over the per-workload and per-agent request caps, and admits again after a release', () => {
    const ledger = new HoldLedger(limits);
    for (let i = 0; i < 3; i += 1) expect(ledger.admit('shop/a', 10, i).admitted).to.equal(true);
    expect(ledger.admit('shop/a', 10, 3)).to.deep.include({ admitted: false });
    expect(ledger.admit('shop/b', 10, 3).admitted).to.equal(true);
    const refused = ledger.admit('shop/c', 10, 3);
    expect(refused.admitted).to.equal(false);
    expect(!refused.admitted && refused.reason).to.match(/agent already holds 4/);
    expect(ledger.release('shop/a')).to.deep.equal([1, 2, 3]);
    expect(ledger.admit('shop/c', 10, 4).admitted).to.equal(true);
  });

  it('caps held bytes as the body arrives, per workload and per agent', () => {
    const ledger = new HoldLedger(limits);
    const a = ledger.admit('shop/a', 100, 0);
    const b = ledger.admit('shop/b', 100, 0);
    if (!a.admitted || !b.admitted) throw new Error('not admitted');
    expect(ledger.grow(a.id, 850)).to.equal(undefined);
    expect(ledger.grow(a.id, 51)).to.match(/for the workload would exceed 1000/);
    expect(ledger.grow(b.id, 400)).to.equal(undefined);
    expect(ledger.grow(b.id, 100)).to.match(/on this agent would exceed 1500/);
    expect(ledger.heldBytes()).to.equal(1_450);
    ledger.remove(a.id);
    expect(ledger.heldBytes()).to.equal(500);
  });

  it('expires requests at their deadline, in arrival order, with time passed in', () => {
    const ledger = new HoldLedger({ ...limits, deadlineMs: 1_000 });
    ledger.admit('shop/a', 1, 0);
    ledger.admit('shop/b', 1, 400);
    ledger.admit('shop/a', 1, 800);
    expect(ledger.nextDeadline()).to.equal(1_000);
    expect(ledger.expire(999)).to.deep.equal([]);
    expect(ledger.expire(1_400)).to.deep.equal([1, 2]);
    expect(ledger.nextDeadline()).to.equal(1_800);
    expect(ledger.held('shop/a')).to.equal(1);
  });

  it('releases in arrival order and forgets removed (abandoned) requests', () => {
    const ledger = new HoldLedger(limits);
    ledger.admit('shop/a', 1, 0);
    ledger.admit('shop/a', 1, 1);
    ledger.admit('shop/a', 1, 2);
    ledger.remove(2);
    expect(ledger.release('shop/a')).to.deep.equal([1, 3]);
    expect(ledger.release('shop/a')).to.deep.equal([]);
    expect(ledger.held()).to.equal(0);
  });
});

describe('WakeSchedule', () => {
  it('asks once per episode, retries a failure with backoff, and asks again after the episode ends', () => {
    const wakes = new WakeSchedule(100, 400);
    expect(wakes.due('shop/a', 0)).to.equal(true);
    wakes.started('shop/a');
    expect(wakes.due('shop/a', 0)).to.equal(false); // in flight
    wakes.failed('shop/a', 0);
    expect(wakes.due('shop/a', 99)).to.equal(false);
    expect(wakes.due('shop/a', 100)).to.equal(true);
    wakes.started('shop/a');
    wakes.failed('shop/a', 100);
    expect(wakes.retryIn('shop/a', 100)).to.equal(200);
    wakes.started('shop/a');
    wakes.succeeded('shop/a');
    expect(wakes.due('shop/a', 10_000)).to.equal(false);
    wakes.reset('shop/a');
    expect(wakes.due('shop/a', 10_000)).to.equal(true);
  });
});

describe('routeRequest', () => {
  const sleeping: SleepingService[] = [
    { workload: 'shop/web', service: { namespace: 'shop', name: 'web' }, clusterIPs: ['10.96.0.10'] },
    { workload: 'blog/web', service: { namespace: 'blog', name: 'web' }, clusterIPs: [] },
    { workload: 'blog/api-v2', service: { namespace: 'blog', name: 'api' }, clusterIPs: ['fd00::a'] },
  ];
  const route = (host: string | undefined, header?: `${string}/${string}`) => {
    const decision = routeRequest(host, header, sleeping);
    return decision.found ? decision.target.workload : decision.reason;
  };

  it('maps every Service host form to its workload', () => {
    expect(route('web.shop')).to.equal('shop/web');
    expect(route('web.shop:8080')).to.equal('shop/web');
    expect(route('WEB.shop.svc')).to.equal('shop/web');
    expect(route('web.blog.svc.cluster.local')).to.equal('blog/web');
    expect(route('web.blog.svc.cluster.local.')).to.equal('blog/web');
    expect(route('api')).to.equal('blog/api-v2');
    expect(route('10.96.0.10:80')).to.equal('shop/web');
    expect(route('[fd00::a]:80')).to.equal('blog/api-v2');
  });

  it('prefers the explicit header, and refuses what is ambiguous or not asleep', () => {
    expect(route('web.shop', 'blog/web')).to.equal('blog/web');
    expect(route('web.shop', 'shop/other')).to.match(/not asleep/);
    expect(route('web')).to.match(/2 sleeping Services are named web/);
    expect(route('web.shop.example.com')).to.match(/not a Service name/);
    expect(route('db.shop')).to.match(/shop\/db is not asleep/);
    expect(route(undefined)).to.match(/no Host header/);
  });
});
