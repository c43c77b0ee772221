// The disruption manager with a fake Eviction API and a clock it is handed: what it evicts, what it
// tells (Events, metrics, pendingFor), and the surge floor it hands the scaler.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { DisruptionCandidate } from '../../../src/controller/disruption.ts';
import { DisruptionManager, type DisruptedWorkload } from '../../../src/controller/disruptions.ts';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';
import type { EvictionPolicy } from '../../../src/core/policy.ts';
import { slimPod } from '../../../src/core/resize/slim-pod.ts';
import type { EvictionResult } from '../../../src/kube/eviction.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import { evictionPolicy, SECOND_MS, T0 } from './cluster.ts';

const readyPod = (name: string, options: { ready?: boolean; deleting?: boolean } = {}) => {
  const pod: V1Pod = {
    metadata: { namespace: 'shop', name, uid: name, creationTimestamp: new Date(T0), ...(options.deleting ? { deletionTimestamp: new Date(T0) } : {}) },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }] },
  };
  return slimPod(pod, `shop/${name.replace(/-\d+$/, '')}` as WorkloadKey);
};

const offered = (name: string, source: DisruptionCandidate['source'] = 'resize', priority = 1): DisruptionCandidate => ({
  workload: `shop/${name.replace(/-\d+$/, '')}` as WorkloadKey,
  pod: `shop/${name}`,
  podUid: name,
  source,
  priority,
  why:
    source === 'repair'
      ? "was created without ebb's sidecar (while the webhook was down, which fails open, or before the workload was opted in)"
      : 'app cpu 100m → 400m',
});

class Harness {
  now = T0;
  leader = true;
  policy: EvictionPolicy = evictionPolicy();
  workloads = new Map<WorkloadKey, DisruptedWorkload>();
  /** The Eviction API's answer for a pod (`namespace/name`); undefined: evicted. */
  refuse: (pod: string) => EvictionResult | undefined = () => undefined;
  evicted: string[] = [];
  events: string[] = [];
  readonly metrics = new ControllerMetrics();
  readonly manager = new DisruptionManager({
    isLeader: () => this.leader,
    policy: () => this.policy,
    workload: (key) => this.workloads.get(key),
    evict: (pod) => {
      this.evicted.push(`${pod.namespace}/${pod.name}`);
      return Promise.resolve(this.refuse(`${pod.namespace}/${pod.name}`) ?? { outcome: 'evicted' });
    },
    event: (workload, type, reason, message) => (this.events.push(`${workload} ${type} ${reason}: ${message}`), Promise.resolve()),
    metrics: this.metrics,
    log: () => undefined,
    clock: () => this.now,
  });

  async metric(name: string, labels = ''): Promise<number> {
    const text = await this.metrics.registry.metrics();
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}${labels} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  }
}

describe('DisruptionManager', () => {
  let harness: Harness;
  beforeEach(() => {
    harness = new Harness();
  });
  afterEach(() => harness.manager.stop());

  it('evicts through the Eviction API and tells it: an Evicted Event on the Deployment, the metric, why the rest waits', async () => {
    harness.workloads.set('shop/web', { replicas: 2, maxReplicas: 10, paused: false, pods: [readyPod('web-0'), readyPod('web-1')] });
    harness.manager.offer('resize', [offered('web-0'), offered('web-1')]);
    await harness.manager.run();
    expect(harness.evicted).to.deep.equal(['shop/web-0']);
    expect(harness.events).to.deep.equal(['shop/web Normal Evicted: evicted pod shop/web-0 (app cpu 100m → 400m)']);
    expect(await harness.metric('ebb_evictions_total', '{outcome="evicted"}')).to.equal(1);
    expect(harness.manager.pendingFor('shop/web')).to.deep.equal([
      'pod shop/web-0 is being evicted',
      'pod shop/web-1 waits until pod shop/web-0, evicted, has been replaced',
    ]);
    expect(await harness.metric('ebb_disruptions_waiting')).to.equal(2);
  });

  it('tells a repair as Repaired and counts it; one candidate per pod, the higher priority', async () => {
    harness.workloads.set('shop/web', { replicas: 2, maxReplicas: 10, paused: false, pods: [readyPod('web-0'), readyPod('web-1')] });
    harness.manager.offer('resize', [offered('web-0', 'resize', 1)]);
    harness.manager.offer('repair', [offered('web-0', 'repair', 10)]);
    await harness.manager.run();
    expect(harness.events).to.deep.equal([
      "shop/web Normal Repaired: evicted pod shop/web-0, which was created without ebb's sidecar (while the webhook was down, which fails open, or before the workload was opted in); its replacement goes through the webhook",
    ]);
    expect(await harness.metric('ebb_repairs_total')).to.equal(1);
  });

  it('counts a refused request against the rate, retries the refused workload only after its backoff, and says EvictionBlocked once per episode', async () => {
    harness.policy = evictionPolicy({ ratePerMinute: 60 });
    harness.workloads.set('shop/guarded', { replicas: 2, maxReplicas: 10, paused: false, pods: [readyPod('guarded-0'), readyPod('guarded-1')] });
    harness.workloads.set('shop/web', { replicas: 2, maxReplicas: 10, paused: false, pods: [readyPod('web-0'), readyPod('web-1')] });
    harness.manager.offer('resize', [offered('guarded-0', 'resize', 5), offered('web-0')]);
    const refusal: EvictionResult = { outcome: 'refused', message: "Cannot evict pod as it would violate the pod's disruption budget." };
    harness.refuse = (pod) => (pod.startsWith('shop/guarded') ? refusal : undefined);
    await harness.manager.run();
    expect(harness.evicted).to.deep.equal(['shop/guarded-0']);
    expect(harness.manager.pendingFor('shop/web')).to.deep.equal(['pod shop/web-0 waits for the eviction rate limit (60/min)']);
    for (const second of [1, 4, 5, 6, 14, 15]) {
      harness.now = T0 + second * SECOND_MS;
      await harness.manager.run();
    }
    expect(harness.evicted).to.deep.equal(['shop/guarded-0', 'shop/web-0', 'shop/guarded-0', 'shop/guarded-0']);
    expect(harness.events.filter((event) => event.includes('EvictionBlocked'))).to.deep.equal([
      "shop/guarded Warning EvictionBlocked: cannot evict pod shop/guarded-0 now: Cannot evict pod as it would violate the pod's disruption budget.; ebb tries again later, backing off",
    ]);
    expect(await harness.metric('ebb_evictions_total', '{outcome="blocked"}')).to.equal(3);
    expect(harness.manager.pendingFor('shop/guarded')).to.deep.equal([
      "pod shop/guarded-0 waits: a PodDisruptionBudget refused its eviction (Cannot evict pod as it would violate the pod's disruption budget.); next try in 20s",
    ]);
  });

  it('in dry run evicts nothing and writes WouldEvict once per pod', async () => {
    harness.policy = evictionPolicy({ dryRun: true, ratePerMinute: 60 });
    harness.workloads.set('shop/solo', { replicas: 1, maxReplicas: 10, paused: false, pods: [readyPod('solo-0')] });
    harness.manager.offer('resize', [offered('solo-0')]);
    for (const second of [0, 1, 2]) {
      harness.now = T0 + second * SECOND_MS;
      await harness.manager.run();
    }
    expect(harness.evicted).to.deep.equal([]);
    expect(harness.manager.surgeFor('shop/solo')).to.equal(undefined);
    expect(harness.events).to.deep.equal([
      'shop/solo Normal WouldEvict: dry run (eviction.dryRun): would evict pod shop/solo-0 after adding a surge replica (app cpu 100m → 400m)',
    ]);
    expect(await harness.metric('ebb_evictions_total', '{outcome="dry-run"}')).to.equal(1);
  });

  it('asks the scaler for a surge replica for a single replica, evicts once it is Ready, and lets it go when the replacement is Ready', async () => {
    harness.workloads.set('shop/solo', { replicas: 1, maxReplicas: 10, paused: false, pods: [readyPod('solo-0')] });
    harness.manager.offer('resize', [offered('solo-0')]);
    await harness.manager.run();
    expect(harness.evicted).to.deep.equal([]);
    expect(harness.manager.surgeFor('shop/solo')).to.deep.equal({ replicas: 2, why: 'one replica more while pod shop/solo-0 is replaced' });

    harness.workloads.set('shop/solo', { replicas: 2, maxReplicas: 10, paused: false, pods: [readyPod('solo-0'), readyPod('solo-1')] });
    await harness.manager.run();
    expect(harness.evicted).to.deep.equal(['shop/solo-0']);
    expect(harness.events).to.deep.equal(['shop/solo Normal Evicted: evicted pod shop/solo-0 (app cpu 100m → 400m); a surge replica serves meanwhile']);

    harness.manager.offer('resize', []);
    harness.workloads.set('shop/solo', {
      replicas: 2,
      maxReplicas: 10,
      paused: false,
      pods: [readyPod('solo-0', { deleting: true }), readyPod('solo-1'), readyPod('solo-2', { ready: false })],
    });
    await harness.manager.run();
    expect(harness.manager.surgeFor('shop/solo')?.replicas).to.equal(2);
    harness.workloads.set('shop/solo', { replicas: 2, maxReplicas: 10, paused: false, pods: [readyPod('solo-1'), readyPod('solo-2')] });
    await harness.manager.run();
    expect(harness.manager.surgeFor('shop/solo')).to.equal(undefined);
  });

  it('adds no surge replica where ebb may not change the replicas, and says so', async () => {
    harness.workloads.set('shop/solo', { replicas: 1, maxReplicas: 10, paused: false, hpa: 'solo-hpa', pods: [readyPod('solo-0')] });
    harness.manager.offer('resize', [offered('solo-0')]);
    await harness.manager.run();
    expect(harness.manager.surgeFor('shop/solo')).to.equal(undefined);
    expect(harness.manager.pendingFor('shop/solo')).to.deep.equal([
      'pod shop/solo-0 cannot be replaced safely: it is the only pod of shop/solo, and ebb may not add a surge replica (HorizontalPodAutoscaler solo-hpa scales it)',
    ]);
    harness.workloads.set('shop/solo', { replicas: 1, maxReplicas: 10, paused: true, pods: [readyPod('solo-0')] });
    await harness.manager.run();
    expect(harness.manager.pendingFor('shop/solo')[0]).to.match(/\(ebb\.dev\/paused\)$/);
    expect(harness.evicted).to.deep.equal([]);
  });

  it('forgets everything when it stops leading', async () => {
    harness.workloads.set('shop/solo', { replicas: 1, maxReplicas: 10, paused: false, pods: [readyPod('solo-0')] });
    harness.manager.offer('resize', [offered('solo-0')]);
    await harness.manager.run();
    harness.leader = false;
    await harness.manager.run();
    expect(harness.manager.surgeFor('shop/solo')).to.equal(undefined);
    expect(harness.manager.pendingFor('shop/solo')).to.deep.equal([]);
    harness.leader = true;
    await harness.manager.run();
    expect(harness.evicted).to.deep.equal([]);
  });
});
