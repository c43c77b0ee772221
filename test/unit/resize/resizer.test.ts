// The resizer's rounds with test doubles for the API (the resize write, Events) and for the
// disruption manager's queue: what it writes, offers, says and counts.
import { expect } from 'chai';
import type { V2MetricSpec } from '@kubernetes/client-node';
import { MAX_IN_FLIGHT, Resizer, type ResizerOptions } from '../../../src/controller/resizer.ts';
import type { DisruptionCandidate, DisruptionSource } from '../../../src/controller/disruption.ts';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';
import type { Workload } from '../../../src/controller/workloads.ts';
import type { ContainerResize } from '../../../src/core/resize/plan.ts';
import { slimPod, type SlimPod } from '../../../src/core/resize/slim-pod.ts';
import type { ResizeMode } from '../../../src/core/settings.ts';
import type { ResizeWrite } from '../../../src/kube/pod-resize.ts';
import { condition, NOW, recommended, runningPod, statusOf, type PodShape } from './pods.ts';

const MINUTE = 60_000;

function workload(resize: ResizeMode, paused = false): Workload {
  return {
    key: 'shop/web',
    deployment: { metadata: { namespace: 'shop', name: 'web', uid: 'deploy-uid' } },
    settings: {
      enabled: true,
      scaling: { minReplicas: 1, maxReplicas: 10, targetConcurrency: 10, idleAfterMs: 0, scaleDownDelayMs: 0, keepWarm: [], paused },
      sizing: { resize },
      traffic: {},
    },
  };
}

const pod = (name: string, shape: PodShape = {}): SlimPod => {
  const raw = runningPod(shape);
  raw.metadata = { ...raw.metadata, name, uid: `uid-${name}` };
  return slimPod(raw, 'shop/web');
};

const requests = (cpu: string, memory: string) => ({ requests: { cpu, memory } });

function harness(
  options: {
    mode?: ResizeMode;
    paused?: boolean;
    dryRun?: boolean;
    pods?: SlimPod[];
    hpa?: readonly V2MetricSpec[] | 'none';
    write?: (pod: SlimPod) => ResizeWrite | Promise<ResizeWrite>;
    maxInFlight?: number;
    leader?: boolean;
  } = {},
) {
  const state = {
    pods: options.pods ?? [pod('web-a', { app: requests('100m', '64Mi') })],
    recommendation: statusOf({ app: recommended(['350m', '450m', '900m'], ['300Mi', '330Mi', '600Mi']) }),
    leader: options.leader ?? true,
    writes: [] as { pod: string; containers: readonly ContainerResize[] }[],
    offers: [] as { source: DisruptionSource; candidates: readonly DisruptionCandidate[] }[],
    events: [] as { kind: string; name: string; type: string; reason: string; message: string }[],
    logs: [] as string[],
  };
  const metrics = new ControllerMetrics();
  const resizerOptions: ResizerOptions = {
    isLeader: () => state.leader,
    workloads: () => [workload(options.mode ?? 'in-place', options.paused)],
    podsOf: () => state.pods,
    recommendation: () => state.recommendation,
    autoscaler: () => (options.hpa === undefined ? undefined : { name: 'web-hpa', metrics: options.hpa === 'none' ? undefined : options.hpa }),
    policy: () => ({ tolerance: 0.1, deferredTimeoutMs: 5 * MINUTE, dryRun: options.dryRun ?? false }),
    allowsMemoryLimitDecrease: () => Promise.resolve(true),
    resize: async (target, containers) => {
      state.writes.push({ pod: target.name, containers });
      return options.write ? options.write(target) : { outcome: 'written' };
    },
    disruptions: { offer: (source, candidates) => state.offers.push({ source, candidates }) },
    metrics,
    event: (target, type, reason, message) => {
      state.events.push({ kind: target.kind, name: target.name, type, reason, message });
      return Promise.resolve();
    },
    log: (_level, msg) => state.logs.push(msg),
    ...(options.maxInFlight !== undefined ? { maxInFlight: options.maxInFlight } : {}),
  };
  const outcomes = async (): Promise<Record<string, number>> =>
    Object.fromEntries((await metrics.resizes.get()).values.map((v) => [String(v.labels.outcome), v.value]));
  return { state, resizer: new Resizer(resizerOptions), metrics, outcomes };
}

const lastOffer = (h: ReturnType<typeof harness>) => h.state.offers.at(-1)?.candidates.map((c) => c.pod);

describe('Resizer', () => {
  it('resizes a pod in place, says so in a Resized Event, waits while it is applied, and counts it applied', async () => {
    const h = harness();
    await h.resizer.round(NOW);
    expect(h.state.writes).to.deep.equal([
      { pod: 'web-a', containers: [{ name: 'app', kind: 'app', requests: { cpu: 450, memory: 330 * 2 ** 20 }, limits: {} }] },
    ]);
    expect(h.state.events).to.deep.equal([
      {
        kind: 'Pod',
        name: 'web-a',
        type: 'Normal',
        reason: 'Resized',
        message: 'app: cpu request 100m → 450m (below the lower bound 350m); app: memory request 64Mi → 330Mi (below the lower bound 300Mi)',
      },
    ]);
    expect(h.resizer.pendingFor('shop/web')).to.deep.equal([
      'web-a: resizing: app: cpu request 100m → 450m (below the lower bound 350m); app: memory request 64Mi → 330Mi (below the lower bound 300Mi)',
    ]);

    // The API server took it (generation 2), the kubelet has not acted yet: nothing more is written.
    h.state.pods = [pod('web-a', { app: requests('450m', '330Mi'), generation: 2, observedGeneration: 1, applied: { app: requests('100m', '64Mi') } })];
    await h.resizer.round(NOW + 10_000);
    expect(h.state.writes).to.have.length(1);
    expect(h.resizer.pendingFor('shop/web')[0]).to.match(/^web-a: resizing: app: cpu request 100m → 450m/);

    h.state.pods = [pod('web-a', { app: requests('450m', '330Mi'), generation: 2 })];
    await h.resizer.round(NOW + 20_000);
    expect(h.state.writes).to.have.length(1);
    expect(h.resizer.pendingFor('shop/web')).to.deep.equal([]);
    expect(await h.outcomes()).to.deep.equal({ written: 1, applied: 1 });
    expect(h.state.offers.every((offer) => offer.source === 'resize' && offer.candidates.length === 0)).to.equal(true);
  });

  it('leaves running pods alone in modes off and initial, and while the workload is paused', async () => {
    for (const h of [harness({ mode: 'off' }), harness({ mode: 'initial' }), harness({ paused: true })]) {
      await h.resizer.round(NOW);
      expect(h.state.writes).to.deep.equal([]);
      expect(lastOffer(h)).to.deep.equal([]);
    }
  });

  it('in mode evict offers the pods for eviction instead, those that need more first', async () => {
    const h = harness({
      mode: 'evict',
      pods: [pod('web-a', { app: requests('2', '330Mi') }), pod('web-b', { app: requests('100m', '64Mi') }), pod('web-c', { app: requests('450m', '330Mi') })],
    });
    await h.resizer.round(NOW);
    expect(h.state.writes).to.deep.equal([]);
    const [candidate] = h.state.offers.at(-1)!.candidates;
    expect(candidate).to.deep.include({ workload: 'shop/web', pod: 'shop/web-b', podUid: 'uid-web-b', source: 'resize' });
    expect(lastOffer(h)).to.deep.equal(['shop/web-b', 'shop/web-a']);
    // Offered once: said once, not every round.
    await h.resizer.round(NOW + 10_000);
    expect(h.state.logs.filter((line) => line.startsWith('offered pod shop/web-b'))).to.have.length(1);
    expect(await h.outcomes()).to.deep.equal({ offered: 2 });
  });

  it('Infeasible in mode auto: the pod is offered for eviction, with one Warning Event', async () => {
    const infeasible = pod('web-a', {
      app: requests('40', '330Mi'),
      generation: 2,
      applied: { app: requests('100m', '330Mi') },
      conditions: [condition('PodResizePending', 'Infeasible', 2, NOW, "Node didn't have enough capacity: cpu, requested: 40000, capacity: 32000")],
    });
    const h = harness({ mode: 'auto', pods: [infeasible] });
    await h.resizer.round(NOW);
    await h.resizer.round(NOW + 10_000);
    expect(lastOffer(h)).to.deep.equal(['shop/web-a']);
    expect(h.state.writes).to.deep.equal([]);
    expect(h.state.events.map((e) => `${e.type} ${e.reason} ${e.message}`)).to.deep.equal([
      "Warning ResizeInfeasible the node cannot fit the resize: Node didn't have enough capacity: cpu, requested: 40000, capacity: 32000; offered for eviction (resize mode auto)",
    ]);
    expect(await h.outcomes()).to.deep.equal({ infeasible: 1, offered: 1 });
  });

  it('Infeasible in mode in-place: one Warning Event, nothing offered, nothing written', async () => {
    const infeasible = pod('web-a', {
      app: requests('40', '330Mi'),
      generation: 2,
      applied: { app: requests('100m', '330Mi') },
      conditions: [condition('PodResizePending', 'Infeasible', 2, NOW, 'too big')],
    });
    const h = harness({ pods: [infeasible] });
    await h.resizer.round(NOW);
    await h.resizer.round(NOW + 10_000);
    expect(lastOffer(h)).to.deep.equal([]);
    expect(h.state.events.map((e) => `${e.reason}: ${e.message}`)).to.deep.equal([
      'ResizeInfeasible: the node cannot fit the resize: too big; ebb leaves the pod as it is (resize mode in-place)',
    ]);
    expect(h.resizer.pendingFor('shop/web')).to.deep.equal(['web-a: the node cannot fit the resize: too big']);
    expect(await h.outcomes()).to.deep.equal({ infeasible: 1 });
  });

  it("Deferred past the policy's timeout in mode in-place: a ResizeDeferred Event", async () => {
    const deferred = pod('web-a', {
      app: requests('450m', '330Mi'),
      generation: 2,
      applied: { app: requests('100m', '330Mi') },
      conditions: [condition('PodResizePending', 'Deferred', 2, NOW, 'later')],
    });
    const h = harness({ pods: [deferred] });
    await h.resizer.round(NOW + MINUTE);
    expect(h.state.events).to.deep.equal([]);
    expect(h.resizer.pendingFor('shop/web')).to.deep.equal(['web-a: the node defers the resize: later']);
    await h.resizer.round(NOW + 5 * MINUTE);
    expect(h.state.events.map((e) => e.reason)).to.deep.equal(['ResizeDeferred']);
  });

  it('an HPA on CPU utilization: CPU requests are left alone, said once in a Warning Event on the Deployment', async () => {
    const h = harness({ hpa: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] });
    await h.resizer.round(NOW);
    h.state.pods = [pod('web-a', { app: requests('100m', '330Mi'), generation: 2 })];
    await h.resizer.round(NOW + 10_000);
    expect(h.state.writes.map((w) => w.containers[0]!.requests)).to.deep.equal([{ memory: 330 * 2 ** 20 }]);
    const warnings = h.state.events.filter((e) => e.kind === 'Deployment');
    expect(warnings).to.deep.equal([
      {
        kind: 'Deployment',
        name: 'web',
        type: 'Warning',
        reason: 'ResizeConflictsWithHPA',
        message:
          'HorizontalPodAutoscaler web-hpa scales this Deployment on cpu utilization, which is relative to the requests: ebb leaves the cpu requests of its running pods as they are',
      },
    ]);
  });

  it('an HPA on an AverageValue target does not hold the resource', async () => {
    const h = harness({ hpa: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '300m' } } }] });
    await h.resizer.round(NOW);
    expect(h.state.writes[0]!.containers[0]!.requests).to.have.keys('cpu', 'memory');
    expect(h.state.events.filter((e) => e.kind === 'Deployment')).to.deep.equal([]);
  });

  it('keeps at most the in-flight limit under way, those that need more first', async () => {
    const pods = [
      pod('web-a', { app: requests('400m', '64Mi') }),
      pod('web-b', { app: requests('100m', '64Mi') }),
      pod('web-c', { app: requests('200m', '330Mi') }),
      pod('web-d', { app: requests('450m', '330Mi'), generation: 2, observedGeneration: 1 }),
    ];
    const h = harness({ pods, maxInFlight: 3 });
    await h.resizer.round(NOW);
    expect(h.state.writes.map((w) => w.pod)).to.deep.equal(['web-a', 'web-b']);
    expect(h.resizer.pendingFor('shop/web').find((line) => line.startsWith('web-c'))).to.match(/^web-c: queued: at most 3 resizes in flight at a time: /);
    expect((await h.metrics.resizeWaiting.get()).values.find((v) => v.labels.state === 'queued')?.value).to.equal(1);
    expect(MAX_IN_FLIGHT).to.be.greaterThan(1);
  });

  it('a kubelet Error is tried again after a backoff, never remembered as infeasible', async () => {
    const failing = (app = requests('450m', '330Mi')) =>
      pod('web-a', {
        app,
        generation: 2,
        applied: { app: requests('100m', '64Mi') },
        conditions: [condition('PodResizeInProgress', 'Error', 2, NOW, 'cannot decrease memory limits')],
      });
    const h = harness({ mode: 'auto', pods: [failing(requests('200m', '330Mi'))] });
    await h.resizer.round(NOW);
    expect(h.state.writes).to.deep.equal([]);
    expect(lastOffer(h)).to.deep.equal([]);
    expect(h.resizer.pendingFor('shop/web')[0]).to.match(
      /^web-a: the kubelet failed to apply the resize \(cannot decrease memory limits\); ebb tries again later/,
    );
    await h.resizer.round(NOW + 29_000);
    expect(h.state.writes).to.deep.equal([]);
    await h.resizer.round(NOW + 30_000);
    expect(h.state.writes.map((w) => w.pod)).to.deep.equal(['web-a']);
    expect(await h.outcomes()).to.include({ error: 1, written: 1 });
  });

  it('a refused write is tried again after a backoff that grows', async () => {
    const h = harness({ write: () => ({ outcome: 'refused', message: 'Pod QOS Class may not change as a result of resizing' }) });
    await h.resizer.round(NOW);
    await h.resizer.round(NOW + 29_000);
    await h.resizer.round(NOW + 30_000);
    await h.resizer.round(NOW + 30_000 + 59_000);
    await h.resizer.round(NOW + 30_000 + 60_000);
    expect(h.state.writes).to.have.length(3);
    expect(h.resizer.pendingFor('shop/web')[0]).to.equal(
      'web-a: resize refused (Pod QOS Class may not change as a result of resizing); ebb tries again in 120 s',
    );
    expect(await h.outcomes()).to.deep.equal({ refused: 3 });
  });

  it('a write that fails on the way is counted and tried again later', async () => {
    const h = harness({ write: () => Promise.reject(new Error('socket hang up')) });
    await h.resizer.round(NOW);
    expect(await h.outcomes()).to.deep.equal({ failed: 1 });
    expect(h.resizer.pendingFor('shop/web')[0]).to.match(/^web-a: resize failed \(socket hang up\)/);
  });

  it("under the policy's dryRun writes nothing and says once what it would do", async () => {
    const h = harness({ dryRun: true });
    await h.resizer.round(NOW);
    await h.resizer.round(NOW + 10_000);
    expect(h.state.writes).to.deep.equal([]);
    expect(h.state.logs.filter((line) => line.startsWith('dry run: would resize pod shop/web-a: app: cpu request 100m → 450m'))).to.have.length(1);
    expect(h.resizer.pendingFor('shop/web')[0]).to.match(/^web-a: dry run: would resize: /);
  });

  it('does nothing off the leader, and a replica that stops leading withdraws its offers', async () => {
    const follower = harness({ leader: false });
    await follower.resizer.round(NOW);
    expect(follower.state.writes).to.deep.equal([]);
    expect(follower.state.offers).to.deep.equal([]);

    const h = harness({ mode: 'evict' });
    await h.resizer.round(NOW);
    expect(lastOffer(h)).to.deep.equal(['shop/web-a']);
    h.state.leader = false;
    await h.resizer.round(NOW + 10_000);
    expect(lastOffer(h)).to.deep.equal([]);
    expect(h.resizer.pendingFor('shop/web')).to.deep.equal([]);
  });
});
