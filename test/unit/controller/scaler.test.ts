import { expect } from 'chai';
import { Scaler, type ScaleTarget, type ScalerEffects, type WorkloadView } from '../../../src/controller/scaler.ts';
import { DEFAULT_TUNING } from '../../../src/core/decider/index.ts';
import type { ScalingSettings } from '../../../src/core/settings.ts';

const settings: ScalingSettings = {
  minReplicas: 0,
  maxReplicas: 10,
  targetConcurrency: 10,
  idleAfterMs: 60_000,
  scaleDownDelayMs: 0,
  keepWarm: [],
  paused: false,
};

/** The scale subresource as the API server keeps it: a count that changes only from the one tested. */
class FakeScale implements ScaleTarget {
  replicas = 0;
  writes: number[] = [];
  reads = 0;
  moves = 0;
  async read() {
    this.reads++;
    await new Promise((resolve) => setImmediate(resolve));
    return this.replicas;
  }
  async move(_namespace: string, _name: string, change: { from: number; to: number }) {
    this.moves++;
    await new Promise((resolve) => setImmediate(resolve));
    if (change.from !== this.replicas) return 'moved' as const;
    this.replicas = change.to;
    this.writes.push(change.to);
    return 'written' as const;
  }
}

function recordingEffects() {
  const events: string[] = [];
  const routes: boolean[] = [];
  const effects: ScalerEffects = {
    event: (_workload, type, reason, message) => void events.push(`${type} ${reason}: ${message}`),
    status: () => undefined,
    routeToActivator: (_workload, asleep) => (routes.push(asleep), Promise.resolve()),
  };
  return { events, routes, effects };
}

const view = (replicas: number, extra: Partial<WorkloadView> = {}): WorkloadView => ({
  key: 'shop/web',
  namespace: 'shop',
  name: 'web',
  settings,
  replicas,
  readyReplicas: replicas,
  unobservedTraffic: [],
  ...extra,
});

describe('scaler', () => {
  it('wakes a workload at zero once, however many agents ask at the same time', async () => {
    const target = new FakeScale();
    const { events, effects } = recordingEffects();
    const scaler = new Scaler({ target, effects, isLeader: () => true });
    const answers = await Promise.all(Array.from({ length: 5 }, () => scaler.wake(view(0), 1000)));
    expect(answers.every((answer) => answer.accepted)).to.equal(true);
    expect(target.writes).to.deep.equal([1]);
    expect(events).to.have.length(1);
    expect(events[0]).to.match(/^Normal Scaled: 0 → 1/);
  });

  it('scales on load and routes to the activator only at zero or with nothing ready', async () => {
    const target = new FakeScale();
    target.replicas = 1;
    const { events, routes, effects } = recordingEffects();
    const scaler = new Scaler({ target, effects, isLeader: () => true });
    await scaler.tick([view(1)], new Map([['shop/web', { at: 1000, inFlight: 42, lastRequestAt: 1000 }]]), 1000);
    expect(target.writes).to.deep.equal([5]);
    expect(events[0]).to.equal('Normal Scaled: 1 → 5: panic, 42 in flight, target 10 per pod');
    expect(routes).to.deep.equal([false]);
    await scaler.tick([view(5, { readyReplicas: 0 })], new Map([['shop/web', { at: 3000, inFlight: 42, lastRequestAt: 3000 }]]), 3000);
    expect(routes).to.deep.equal([false, true]);
  });

  it('routes to the activator before the last pod goes, and stays up, warned, when it cannot', async () => {
    const idleSoon = { ...settings, idleAfterMs: 4000 };
    const quiet = (at: number) => new Map([['shop/web' as const, { at, inFlight: 0 }]]);
    const target = new FakeScale();
    target.replicas = 1;
    const { events, effects } = recordingEffects();
    const order: string[] = [];
    let full = true;
    const scaler = new Scaler({
      target: {
        read: () => target.read(),
        move: (ns, name, change) => (order.push(`write ${change.to}`), target.move(ns, name, change)),
      },
      effects: {
        ...effects,
        routeToActivator: (_workload, asleep) => {
          if (asleep && full) return Promise.reject(new Error('no free activator port in 20000-20001; widen EBB_ACTIVATOR_PORTS'));
          order.push(`route ${asleep}`);
          return Promise.resolve();
        },
      },
      isLeader: () => true,
    });
    for (let at = 2000; at <= 8000; at += 2000) await scaler.tick([view(1, { settings: idleSoon })], quiet(at), at);
    expect(target.writes).to.deep.equal([]);
    expect(events.filter((event) => event.startsWith('Warning'))).to.deep.include(
      'Warning ActivatorUnavailable: staying at 1 replicas rather than sleeping unreachable: no free activator port in 20000-20001; widen EBB_ACTIVATOR_PORTS',
    );
    full = false;
    await scaler.tick([view(1, { settings: idleSoon })], quiet(10_000), 10_000);
    expect(target.writes).to.deep.equal([0]);
    expect(order.indexOf('route true'), order.join(', ')).to.be.below(order.indexOf('write 0'));
  });

  it('does not write when the count changed since the cache saw it', async () => {
    const target = new FakeScale();
    target.replicas = 3; // someone scaled to 3; the cache still says 1
    const { events, effects } = recordingEffects();
    const scaler = new Scaler({ target, effects, isLeader: () => true });
    await scaler.tick([view(1)], new Map([['shop/web', { at: 1000, inFlight: 42, lastRequestAt: 1000 }]]), 1000);
    expect(target.moves).to.equal(1);
    expect(target.writes).to.deep.equal([]);
    expect(events).to.deep.equal([]);
  });

  it('writes nothing when not the leader', async () => {
    const target = new FakeScale();
    const { effects } = recordingEffects();
    const scaler = new Scaler({ target, effects, isLeader: () => false });
    expect(await scaler.wake(view(0), 1000)).to.deep.equal({ accepted: false, refusal: 'not-leader', reason: 'this controller replica is not the leader' });
    await scaler.tick([view(1)], new Map([['shop/web', { at: 1000, inFlight: 42, lastRequestAt: 1000 }]]), 1000);
    expect(target.writes).to.deep.equal([]);
    expect(target.reads + target.moves).to.equal(0);
  });

  it('steps back from a Deployment that an HPA scales, and says so once', async () => {
    const target = new FakeScale();
    target.replicas = 1;
    const { events, effects } = recordingEffects();
    const scaler = new Scaler({ target, effects, isLeader: () => true });
    const withHpa = view(1, { hpa: 'web' });
    for (const at of [1000, 3000]) await scaler.tick([withHpa], new Map([['shop/web', { at, inFlight: 42, lastRequestAt: at }]]), at);
    expect(target.writes).to.deep.equal([]);
    expect(events).to.deep.equal([
      'Warning HorizontalPodAutoscalerPresent: HorizontalPodAutoscaler web scales this Deployment; ebb leaves its replicas alone while it exists',
    ]);
    expect((await scaler.wake(view(0, { hpa: 'web' }), 5000)).accepted).to.equal(false);
  });

  it('refuses to wake a paused workload', async () => {
    const scaler = new Scaler({ target: new FakeScale(), effects: recordingEffects().effects, isLeader: () => true });
    const answer = await scaler.wake(view(0, { settings: { ...settings, paused: true } }), 1000);
    expect(answer).to.deep.equal({ accepted: false, refusal: 'paused', reason: 'shop/web is paused (ebb.dev/paused)' });
  });

  it('warns once when a woken workload has no Ready pod a minute later', async () => {
    const target = new FakeScale();
    const { events, effects } = recordingEffects();
    const scaler = new Scaler({ target, effects, isLeader: () => true });
    await scaler.wake(view(0), 1000);
    const woken = view(1, { readyReplicas: 0 });
    const sample = (at: number) => new Map([['shop/web' as const, { at, inFlight: 1, lastRequestAt: at }]]);
    await scaler.tick([woken], sample(50_000), 50_000);
    expect(events.filter((e) => e.startsWith('Warning'))).to.deep.equal([]);
    await scaler.tick([woken], sample(61_000), 61_000);
    await scaler.tick([woken], sample(63_000), 63_000);
    expect(events.filter((e) => e.startsWith('Warning'))).to.deep.equal([
      'Warning WakeUpNotReady: woken from zero 60s ago and no pod is Ready yet; requests held for it end with 503 at their deadline (check the pods: kubectl describe pods)',
    ]);
  });

  describe('traffic ebb does not see', () => {
    const bypass = "Service shop/web targets port 8080 by number, which bypasses ebb's interceptor: set targetPort: http (the port's name)";
    const grpc =
      "Service shop/web-grpc targets port grpc, which bypasses ebb's interceptor (it intercepts port http only): set targetPort: http, or set ebb.dev/port: grpc if that port serves the requests";
    const idleSoon = { ...settings, idleAfterMs: 4000 };
    const quiet = (at: number) => new Map([['shop/web' as const, { at, inFlight: 0 }]]);
    const warnings = (events: string[]) => events.filter((event) => event.startsWith('Warning'));

    it('keeps the workload at one replica past idle-after, and ebbs it once the traffic is seen', async () => {
      const target = new FakeScale();
      target.replicas = 1;
      const { events, effects } = recordingEffects();
      const reasons: string[] = [];
      const scaler = new Scaler({
        target,
        effects: { ...effects, decided: (_workload, decision) => reasons.push(decision.reason.code) },
        isLeader: () => true,
      });
      const unobserved = view(1, { settings: idleSoon, unobservedTraffic: [bypass] });
      for (let at = 2000; at <= 20_000; at += 2000) await scaler.tick([unobserved], quiet(at), at);
      expect(target.writes).to.deep.equal([]);
      expect(reasons.at(-1)).to.equal('unobserved');
      await scaler.tick([view(1, { settings: idleSoon })], quiet(22_000), 22_000);
      expect(target.writes).to.deep.equal([0]);
      expect(events.at(-1)).to.match(/^Normal ScaledToZero: 1 → 0: no request for 20s/);
    });

    it('scales up on the load it sees', async () => {
      const target = new FakeScale();
      target.replicas = 1;
      const scaler = new Scaler({ target, effects: recordingEffects().effects, isLeader: () => true });
      await scaler.tick([view(1, { unobservedTraffic: [bypass] })], new Map([['shop/web', { at: 1000, inFlight: 42, lastRequestAt: 1000 }]]), 1000);
      expect(target.writes).to.deep.equal([5]);
    });

    it('warns once per cause, again when a cause comes back, and not from a standby', async () => {
      const target = new FakeScale();
      target.replicas = 1;
      const { events, effects } = recordingEffects();
      let leader = false;
      const scaler = new Scaler({ target, effects, isLeader: () => leader });
      const tick = (at: number, ...causes: string[]) => scaler.tick([view(1, { unobservedTraffic: causes })], quiet(at), at);
      await tick(1000, bypass);
      expect(warnings(events)).to.deep.equal([]);
      leader = true;
      await tick(2000, bypass);
      await tick(4000, bypass);
      await tick(6000, bypass, grpc);
      await tick(8000, grpc);
      await tick(10_000);
      await tick(12_000, bypass);
      const suffix = '; until ebb sees this traffic, it keeps at least one replica';
      expect(warnings(events)).to.deep.equal([
        `Warning TrafficNotObserved: ${bypass}${suffix}`,
        `Warning TrafficNotObserved: ${grpc}${suffix}`,
        `Warning TrafficNotObserved: ${bypass}${suffix}`,
      ]);
    });

    it('leaves a workload an HPA scales alone', async () => {
      const { events, effects } = recordingEffects();
      const scaler = new Scaler({ target: new FakeScale(), effects, isLeader: () => true });
      await scaler.tick([view(1, { hpa: 'web', unobservedTraffic: [bypass] })], quiet(1000), 1000);
      expect(events.map((event) => event.split(':')[0])).to.deep.equal(['Warning HorizontalPodAutoscalerPresent']);
    });
  });

  it("keeps as much activity as its tuning's stable window reads, however long that is", async () => {
    const target = new FakeScale();
    target.replicas = 1;
    const { effects } = recordingEffects();
    const scaler = new Scaler({ target, effects, isLeader: () => true, tuning: { ...DEFAULT_TUNING, stableWindowMs: 300_000 } });
    const sample = { at: 1_000, inFlight: 5, lastRequestAt: 1_000 };
    // An activity window shorter than the stable window would refuse to answer (a RangeError).
    await scaler.tick([view(1)], new Map([['shop/web', sample]]), 1_000);
    expect(target.writes).to.deep.equal([]);
  });

  it('decides every workload of a tick when one fails, then fails the tick with that error', async () => {
    const target = new FakeScale();
    target.replicas = 1;
    const decided: string[] = [];
    const effects: ScalerEffects = {
      event: () => undefined,
      status: (workload) => {
        decided.push(workload.key);
        if (workload.key === 'shop/a') throw new Error('status of shop/a');
      },
      routeToActivator: () => undefined,
    };
    const scaler = new Scaler({ target, effects, isLeader: () => true });
    const workloads = (['shop/a', 'shop/b', 'shop/c'] as const).map((key) => view(1, { key, name: key.split('/')[1]! }));
    const samples = new Map(workloads.map((workload) => [workload.key, { at: 1000, inFlight: 5, lastRequestAt: 1000 }]));
    let failure: unknown;
    await scaler.tick(workloads, samples, 1000).catch((error: unknown) => (failure = error));
    expect(decided).to.deep.equal(['shop/a', 'shop/b', 'shop/c']);
    expect(failure).to.be.an('error').with.property('message', 'status of shop/a');
  });
});
