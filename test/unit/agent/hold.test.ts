import { expect } from 'chai';
import { HoldLedger } from '../../../src/core/activity/hold-ledger.ts';
import { activatorRoutes, servicesRouted, targetKey, type ActivatorRoute } from '../../../src/core/activity/route.ts';
import type { ActivatorSliceView } from '../../../src/core/activator-slice.ts';
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

  it('releases one queue (a Service port) at a time, and caps across the workload’s queues', () => {
    const ledger = new HoldLedger(limits);
    ledger.admit('shop/a', 1, 0, 'http');
    ledger.admit('shop/a', 1, 1, 'grpc');
    ledger.admit('shop/a', 1, 2, 'http');
    expect(ledger.admit('shop/a', 1, 3, 'grpc')).to.deep.include({ admitted: false });
    expect(ledger.queued('http')).to.equal(2);
    expect(ledger.release('http')).to.deep.equal([1, 3]);
    expect(ledger.held('shop/a')).to.equal(1);
    expect(ledger.release('grpc')).to.deep.equal([2]);
    expect(ledger.workloads()).to.deep.equal([]);
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

describe('activatorRoutes', () => {
  const slice = (namespace: string, name: string, ports: Record<string, number>, createdAt = '2026-01-01T00:00:00.000Z'): ActivatorSliceView => ({
    service: { namespace, name },
    workload: `${namespace}/${name}`,
    ports: new Map(Object.entries(ports)),
    createdAt,
  });
  const table = (routes: readonly ActivatorRoute[]) =>
    routes.map((route) => `${route.port} ${targetKey(route.target)}${route.awakeSince === undefined ? '' : ` awake since ${route.awakeSince}`}`);

  it('routes each port of a slice to its own Service port', () => {
    const { routes, conflicts } = activatorRoutes([], [slice('shop', 'web', { http: 20001, grpc: 20002 }), slice('blog', 'web', { '': 20003 })], 0, 1_000);
    expect(table(routes)).to.deep.equal(['20001 shop/web shop/web:http', '20002 shop/web shop/web:grpc', '20003 blog/web blog/web:']);
    expect(conflicts).to.deep.equal([]);
  });

  it('keeps a port for the older of two slices that claim it, and says which one lost', () => {
    const forged = slice('mall', 'evil', { http: 20001 }, '2026-02-01T00:00:00.000Z');
    const { routes, conflicts } = activatorRoutes([], [forged, slice('shop', 'web', { http: 20001 })], 0, 1_000);
    expect(table(routes)).to.deep.equal(['20001 shop/web shop/web:http']);
    expect(conflicts).to.have.length(1);
    expect(conflicts[0]).to.match(/port 20001: the activator slice of Service mall\/evil claims the port of shop\/web/);
  });

  it('keeps a woken Service on its port for the grace period, unless a sleeping Service claims the port', () => {
    const asleep = activatorRoutes([], [slice('shop', 'web', { http: 20001 }), slice('shop', 'api', { http: 20002 })], 0, 1_000).routes;
    const woken = activatorRoutes(asleep, [], 500, 1_000).routes;
    expect(table(woken)).to.deep.equal(['20001 shop/web shop/web:http awake since 500', '20002 shop/api shop/api:http awake since 500']);
    expect(table(activatorRoutes(woken, [], 1_500, 1_000).routes)).to.have.length(2);
    expect(table(activatorRoutes(woken, [], 1_501, 1_000).routes)).to.deep.equal([]);
    const taken = activatorRoutes(woken, [slice('blog', 'web', { http: 20001 })], 600, 1_000).routes;
    expect(table(taken)).to.deep.equal(['20001 blog/web blog/web:http', '20002 shop/api shop/api:http awake since 500']);
    expect(servicesRouted(taken)).to.equal(2);
  });
});
