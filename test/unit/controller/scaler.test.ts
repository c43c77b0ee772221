import { expect } from 'chai';
import { Scaler, type ScaleTarget, type ScalerEffects, type WorkloadView } from '../../../src/controller/scaler.ts';
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

/** The scale subresource as the API server keeps it: a count and a resourceVersion that moves. */
class FakeScale implements ScaleTarget {
  replicas = 0;
  version = 1;
  writes: number[] = [];
  reads = 0;
  async read() {
    this.reads++;
    await new Promise((resolve) => setImmediate(resolve));
    return { replicas: this.replicas, resourceVersion: String(this.version) };
  }
  async write(_namespace: string, _name: string, replicas: number, resourceVersion: string) {
    await new Promise((resolve) => setImmediate(resolve));
    if (resourceVersion !== String(this.version)) return 'conflict' as const;
    this.replicas = replicas;
    this.version++;
    this.writes.push(replicas);
    return 'written' as const;
  }
}

function recordingEffects() {
  const events: string[] = [];
  const routes: boolean[] = [];
  const effects: ScalerEffects = {
    event: (_workload, type, reason, message) => (events.push(`${type} ${reason}: ${message}`), Promise.resolve()),
    status: () => Promise.resolve(),
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

  it('does not write when the count changed since the cache saw it, nor when a write conflicts', async () => {
    const target = new FakeScale();
    target.replicas = 3; // someone scaled to 3; the cache still says 1
    const { events, effects } = recordingEffects();
    const scaler = new Scaler({ target, effects, isLeader: () => true });
    await scaler.tick([view(1)], new Map([['shop/web', { at: 1000, inFlight: 42, lastRequestAt: 1000 }]]), 1000);
    expect(target.writes).to.deep.equal([]);
    expect(events).to.deep.equal([]);
  });

  it('writes nothing when not the leader', async () => {
    const target = new FakeScale();
    const { effects } = recordingEffects();
    const scaler = new Scaler({ target, effects, isLeader: () => false });
    expect(await scaler.wake(view(0), 1000)).to.deep.equal({ accepted: false, reason: 'this controller replica is not the leader', status: 503 });
    await scaler.tick([view(1)], new Map([['shop/web', { at: 1000, inFlight: 42, lastRequestAt: 1000 }]]), 1000);
    expect(target.writes).to.deep.equal([]);
    expect(target.reads).to.equal(0);
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
    expect(answer).to.deep.equal({ accepted: false, reason: 'shop/web is paused (ebb.dev/paused)', status: 409 });
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
});
