// The leader's right-sizing loop with its I/O replaced by data: usage reports in, recommendations,
// Events, metrics and checkpoints out, time stepped by the test.

import { expect } from 'chai';
import type { V1Deployment } from '@kubernetes/client-node';
import type { Collected } from '../../../src/controller/agents.ts';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';
import { SizingLoop } from '../../../src/controller/sizing.ts';
import type { CheckpointStorage } from '../../../src/controller/checkpoints.ts';
import type { Workload } from '../../../src/controller/workloads.ts';
import { DEFAULT_SIZING } from '../../../src/core/recommender/index.ts';
import type { WorkloadSettings } from '../../../src/core/settings.ts';
import type { StoredCheckpoints } from '../../../src/kube/sizing-checkpoints.ts';
import { shardText } from '../../../src/core/sizing/checkpoint-shards.ts';
import { parseCpu, parseMemory } from '../../../src/core/quantity.ts';
import type { Result } from '../../../src/core/result.ts';
import type { OomKill, UsageReport } from '../../../src/protocol/usage.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';

const MiB = 2 ** 20;
const start = Date.parse('2026-12-01T00:00:00Z');

class MemoryStore implements CheckpointStorage {
  readonly saved = new Map<string, { kind: 'shard' | 'workload'; text: string }>();
  writes = 0;
  list(): Promise<StoredCheckpoints[]> {
    return Promise.resolve([...this.saved].map(([name, object]) => ({ name, ...object })));
  }
  write(name: string, text: string): Promise<void> {
    this.writes++;
    this.saved.set(name, { kind: 'shard', text });
    return Promise.resolve();
  }
  delete(name: string): Promise<void> {
    this.saved.delete(name);
    return Promise.resolve();
  }
  /** The checkpoints a shard holds. */
  shard(name: string): { workload: string }[] {
    const object = this.saved.get(name);
    return object ? (JSON.parse(object.text) as { checkpoints: { workload: string }[] }).checkpoints : [];
  }
}

const settings = { enabled: true, scaling: {}, sizing: { resize: 'initial' }, traffic: {} } as unknown as WorkloadSettings;
const deployment: V1Deployment = { metadata: { namespace: 'shop', name: 'web' } };
const web: Workload = { key: 'shop/web', deployment, settings };

function report(at: number, cpuCores: number, memoryBytes: number, ooms: OomKill[] = []): UsageReport {
  return {
    node: 'node-a',
    generatedAt: at,
    scrapedAt: at,
    stale: false,
    pods: [
      { pod: 'shop/web-1', workload: 'shop/web', containers: [{ container: 'app', cpuCores, memoryBytes, at }] },
      { pod: 'shop/web-2', workload: 'shop/web', containers: [{ container: 'app', cpuCores, memoryBytes, at: at - 3_000 }] },
    ],
    ooms,
  };
}

function harness(store = new MemoryStore()) {
  const events: string[] = [];
  const logs: string[] = [];
  let reports: UsageReport[] = [];
  let leader = true;
  let workloads: Workload[] = [web];
  const metrics = new ControllerMetrics();
  const loop = new SizingLoop({
    isLeader: () => leader,
    collect: (): Promise<Collected<UsageReport>> => Promise.resolve({ reports, failures: [] }),
    workloads: () => workloads,
    exists: (key) => workloads.some((workload) => workload.key === key),
    config: () => DEFAULT_SIZING,
    store,
    checkpointIntervalMs: 60_000,
    metrics,
    event: (_workload, type, reason, message) => (events.push(`${type} ${reason}: ${message}`), Promise.resolve()),
    log: (_level, msg) => logs.push(msg),
  });
  return {
    loop,
    store,
    events,
    logs,
    metrics,
    feed: (next: UsageReport[]) => (reports = next),
    setLeader: (value: boolean) => (leader = value),
    setWorkloads: (next: Workload[]) => (workloads = next),
  };
}

/** Ten-second rounds from `from`, each with a fresh sample of the given usage. */
async function rounds(h: ReturnType<typeof harness>, from: number, count: number, cpuCores: number, memoryBytes: number): Promise<number> {
  let now = from;
  for (let i = 0; i < count; i++, now += 10_000) {
    h.feed([report(now, cpuCores, memoryBytes)]);
    await h.loop.round(now);
  }
  return now;
}

function workloadsNamed(count: number): Workload[] {
  return Array.from({ length: count }, (_, i) => ({ ...web, key: `shop/web-${i}` as WorkloadKey }));
}

/** One sample of one container for each workload's one pod. */
function usageOf(workloads: readonly Workload[], at: number): UsageReport {
  const pods = workloads.map((workload) => ({
    pod: `${workload.key}-1`,
    workload: workload.key,
    containers: [{ container: 'app', cpuCores: 0.5, memoryBytes: 300 * MiB, at }],
  }));
  return { node: 'node-a', generatedAt: at, scrapedAt: at, stale: false, pods, ooms: [] };
}

const target = (h: ReturnType<typeof harness>) => h.loop.statusRecommendation('shop/web')?.containers.app;

describe('sizing loop', () => {
  it('publishes a recommendation from the agents’ usage, with an Event and the metrics', async () => {
    const h = harness();
    await rounds(h, start, 30, 0.5, 300 * MiB);
    const app = target(h);
    expect(app, 'a recommendation after five minutes of samples').to.not.equal(undefined);
    expect(h.events.filter((event) => event.startsWith('Normal RecommendationChanged'))).to.have.length.greaterThan(0);
    expect(h.events[0]).to.match(/^Normal RecommendationChanged: app: cpu \S+ \(\S+–\S+\), memory/);
    const metrics = await h.metrics.registry.getSingleMetricAsString('ebb_recommendation_target');
    expect(metrics).to.match(/ebb_recommendation_target\{namespace="shop",deployment="web",container="app",resource="memory"\} \d+/);
  });

  it("keeps the metrics at the published figures as they move, and drops a deleted workload's series", async () => {
    const h = harness();
    // The target series by resource.
    const series = async (): Promise<Record<string, number>> => {
      const text = await h.metrics.registry.getSingleMetricAsString('ebb_recommendation_target');
      return Object.fromEntries(
        [...text.matchAll(/^ebb_recommendation_target\{.*resource="(\w+)"\} (\S+)$/gm)].map(([, resource, value]) => [resource!, Number(value)]),
      );
    };
    const amount = (parsed: Result<number>) => (parsed.ok ? parsed.value : NaN);
    // What the gauges show: cores and bytes.
    const published = () => ({ cpu: amount(parseCpu(target(h)!.cpu)) / 1000, memory: amount(parseMemory(target(h)!.memory)) });
    let now = await rounds(h, start, 30, 0.5, 300 * MiB);
    const before = published();
    expect(await series()).to.deep.equal(before);
    now = await rounds(h, now, 30, 1.5, 900 * MiB);
    const after = published();
    expect(after, 'a step up moves the targets').to.not.deep.equal(before);
    expect(await series()).to.deep.equal(after);

    h.setWorkloads([]);
    await h.loop.round(now);
    expect(await series(), 'deleted').to.deep.equal({});
    h.setWorkloads([web]);
    await rounds(h, now + 10_000, 30, 0.5, 300 * MiB);
    expect(Object.keys(await series()), 'created again').to.deep.equal(['cpu', 'memory']);
  });

  it('a new leader does not announce again the recommendations the status annotations already hold', async () => {
    const store = new MemoryStore();
    const first = harness(store);
    const end = await rounds(first, start, 30, 0.5, 300 * MiB);
    const status = JSON.stringify({ recommendation: first.loop.statusRecommendation('shop/web') });
    const next = harness(store);
    next.setWorkloads([{ ...web, deployment: { ...deployment, metadata: { ...deployment.metadata, annotations: { 'ebb.dev/status': status } } } }]);
    await rounds(next, end, 1, 0.5, 300 * MiB);
    expect(next.loop.statusRecommendation('shop/web'), 'restored and published').to.not.equal(undefined);
    expect(next.events, 'the same figures: no Event').to.deep.equal([]);
    await rounds(next, end + 10_000, 60, 2, 900 * MiB);
    expect(
      next.events.filter((event) => event.startsWith('Normal RecommendationChanged')),
      'a real move is still announced',
    ).to.have.length.greaterThan(0);
  });

  it("publishes the pod template's requests beside the recommendation, in cores and bytes, none where it asks none", async () => {
    const h = harness();
    const template = { spec: { containers: [{ name: 'app', resources: { requests: { cpu: '250m' } } }] } };
    h.setWorkloads([{ ...web, deployment: { ...deployment, spec: { selector: {}, template } } }]);
    await rounds(h, start, 30, 0.5, 300 * MiB);
    const requests = await h.metrics.registry.getSingleMetricAsString('ebb_template_requests');
    expect(requests).to.include('ebb_template_requests{namespace="shop",deployment="web",container="app",resource="cpu"} 0.25');
    expect(requests).to.not.include('resource="memory"');
  });

  it('feeds each sample once, however often the same report is pulled', async () => {
    const once = harness();
    const twice = harness();
    let now = start;
    for (let i = 0; i < 60; i++, now += 10_000) {
      once.feed([report(now, 0.2 + (i % 5) * 0.1, 200 * MiB)]);
      twice.feed([report(now, 0.2 + (i % 5) * 0.1, 200 * MiB)]);
      await once.loop.round(now);
      await twice.loop.round(now);
      // The quiet samples pulled again: counted twice they would drag the history's level down.
      if (i % 5 === 0) await twice.loop.round(now + 2_000);
    }
    expect(twice.loop.statusRecommendation('shop/web')).to.deep.equal(once.loop.statusRecommendation('shop/web'));
  });

  it('counts an OOM kill once, with a Warning Event, and raises the memory target', async () => {
    const h = harness();
    const now = await rounds(h, start, 30, 0.2, 200 * MiB);
    const before = target(h)!.memory;
    const kill: OomKill = {
      pod: 'shop/web-1',
      workload: 'shop/web',
      container: 'app',
      at: now,
      restartCount: 1,
      memoryRequestBytes: 256 * MiB,
      memoryLimitBytes: 256 * MiB,
    };
    for (const at of [now, now + 10_000, now + 20_000]) {
      h.feed([report(at, 0.2, 200 * MiB, [kill])]);
      await h.loop.round(at);
    }
    expect(h.events.filter((event) => event.startsWith('Warning OOMKilled'))).to.have.length(1);
    expect(h.events.find((event) => event.startsWith('Warning OOMKilled'))).to.include('memory request 256Mi, limit 256Mi');
    expect(parseMi(target(h)!.memory)).to.be.greaterThan(parseMi(before));
  });

  it('checkpoints at most once per interval, and a new leader resumes from the checkpoint', async () => {
    const store = new MemoryStore();
    const first = harness(store);
    // Rounds at 0 … 60 s: written at the first and at 60 s; what it published then is what a successor gets back.
    const next = await rounds(first, start, 7, 0.5, 300 * MiB);
    expect(store.writes).to.equal(2);
    const atCheckpoint = first.loop.statusRecommendation('shop/web');
    await rounds(first, next, 5, 0.5, 300 * MiB); // up to 110 s: no write within the interval
    expect(store.writes).to.equal(2);
    expect([...store.saved.keys()]).to.deep.equal(['ebb-sizing-0-of-1']);
    expect(store.shard('ebb-sizing-0-of-1')).to.have.length(1);
    expect(store.shard('ebb-sizing-0-of-1')[0]).to.include({ v: 1, workload: 'shop/web' });

    // The leader dies; another replica leads with no usage to pull yet: it starts from the checkpoint.
    const successor = harness(store);
    successor.feed([]);
    await successor.loop.round(start + 120_000);
    expect(successor.logs).to.include('recommender restored 1 workload checkpoints');
    const restored = successor.loop.statusRecommendation('shop/web');
    expect(restored?.containers.app?.cpu).to.equal(atCheckpoint?.containers.app?.cpu);
    expect(restored?.containers.app?.memory).to.equal(atCheckpoint?.containers.app?.memory);
  });

  it('keeps many workloads in a few shards, each written about once an interval, spread over the rounds', async () => {
    const store = new MemoryStore();
    const h = harness(store);
    const many = workloadsNamed(600);
    h.setWorkloads(many);
    const writesPerRound: number[] = [];
    for (let round = 0, now = start; round < 30; round++, now += 10_000) {
      h.feed([usageOf(many, now)]);
      const before = store.writes;
      await h.loop.round(now);
      writesPerRound.push(store.writes - before);
    }
    // 600 containers, at most 200 a shard: 4 shards, written one a round (their share of a 60-s interval, half again, rounded up).
    expect([...store.saved.keys()].sort()).to.deep.equal(['ebb-sizing-0-of-4', 'ebb-sizing-1-of-4', 'ebb-sizing-2-of-4', 'ebb-sizing-3-of-4']);
    expect(Math.max(...writesPerRound)).to.equal(1);
    const held = [...store.saved.keys()].flatMap((name) => store.shard(name).map((checkpoint) => checkpoint.workload));
    expect(new Set(held).size, 'every workload checkpointed, once').to.equal(600);
    expect(held).to.have.length(600);
    expect(writesPerRound.slice(0, 4), 'every shard written in the first rounds').to.deep.equal([1, 1, 1, 1]);
    // Then each shard once an interval: over the last 4 minutes, 4 times each.
    expect(writesPerRound.slice(6).reduce((a, b) => a + b)).to.equal(4 * 4);
  });

  it('moves to more shards as containers are added: writes the new set, then deletes the old one whole', async () => {
    const store = new MemoryStore();
    const h = harness(store);
    let workloads = workloadsNamed(150);
    h.setWorkloads(workloads);
    let now = start;
    const round = async () => {
      h.feed([usageOf(workloads, now)]);
      await h.loop.round(now);
      now += 10_000;
    };
    await round();
    expect([...store.saved.keys()]).to.deep.equal(['ebb-sizing-0-of-1']);
    workloads = workloadsNamed(300);
    h.setWorkloads(workloads);
    await round();
    // The old shard stays until both new ones are written, and only then goes.
    expect([...store.saved.keys()].sort()).to.deep.equal(['ebb-sizing-0-of-1', 'ebb-sizing-0-of-2']);
    expect(store.shard('ebb-sizing-0-of-1')).to.have.length(150);
    await round();
    expect([...store.saved.keys()].sort()).to.deep.equal(['ebb-sizing-0-of-2', 'ebb-sizing-1-of-2']);
    const held = ['ebb-sizing-0-of-2', 'ebb-sizing-1-of-2'].flatMap((name) => store.shard(name));
    expect(held).to.have.length(300);
  });

  it('reads the one-workload checkpoints written before shards, and deletes them once its shards are written', async () => {
    const before = new MemoryStore();
    await rounds(harness(before), start, 3, 0.5, 300 * MiB);
    const store = new MemoryStore();
    store.saved.set('ebb-sizing.shop.web', { kind: 'workload', text: JSON.stringify(before.shard('ebb-sizing-0-of-1')[0]) });
    const h = harness(store);
    h.feed([]);
    await h.loop.round(start + 60_000);
    expect(h.logs).to.include('recommender restored 1 workload checkpoints');
    expect(target(h)).to.not.equal(undefined);
    await rounds(h, start + 70_000, 1, 0.5, 300 * MiB);
    expect([...store.saved.keys()]).to.deep.equal(['ebb-sizing-0-of-1']);
    expect(store.shard('ebb-sizing-0-of-1')[0]).to.include({ workload: 'shop/web' });
  });

  it('deletes an older checkpoint object only once the shards hold its workload, also one that sleeps and sends no samples', async () => {
    const [asleep, awake] = workloadsNamed(2);
    const before = new MemoryStore();
    const first = harness(before);
    first.setWorkloads([asleep!, awake!]);
    for (let now = start; now < start + 30_000; now += 10_000) {
      first.feed([usageOf([asleep!, awake!], now)]);
      await first.loop.round(now);
    }
    const checkpointOf = (workload: Workload) => before.shard('ebb-sizing-0-of-1').find((checkpoint) => checkpoint.workload === workload.key);
    // Its own object from before shards holds the sleeping workload; the shard holds only the other.
    const store = new MemoryStore();
    store.saved.set('ebb-sizing.shop.web-0', { kind: 'workload', text: JSON.stringify(checkpointOf(asleep!)) });
    store.saved.set('ebb-sizing-0-of-1', { kind: 'shard', text: shardText([checkpointOf(awake!)]) });
    const h = harness(store);
    h.setWorkloads([asleep!, awake!]);
    h.feed([]);
    await h.loop.round(start + 60_000);
    // The sleeping workload's object goes only once the shard holds it.
    expect([...store.saved.keys()]).to.deep.equal(['ebb-sizing-0-of-1']);
    expect(
      store
        .shard('ebb-sizing-0-of-1')
        .map((checkpoint) => checkpoint.workload)
        .sort(),
    ).to.deep.equal([asleep!.key, awake!.key].sort());
  });

  it('drops the checkpoint of a Deployment that no longer exists from its shard within an interval, and keeps a sleeping one’s', async () => {
    const h = harness();
    const now = await rounds(h, start, 3, 0.5, 300 * MiB);
    h.feed([]); // asleep at zero: no pods, no usage
    await h.loop.round(now + 3_600_000);
    expect(h.store.shard('ebb-sizing-0-of-1').map((checkpoint) => checkpoint.workload)).to.deep.equal(['shop/web']);
    expect(target(h)).to.not.equal(undefined);
    h.setWorkloads([]);
    await h.loop.round(now + 3_610_000);
    expect(target(h)).to.equal(undefined);
    // Its shard was written 10 s ago: it goes at the shard's next write, an interval after that one.
    await h.loop.round(now + 3_650_000);
    expect(h.store.shard('ebb-sizing-0-of-1')).to.have.length(1);
    await h.loop.round(now + 3_660_000);
    expect(h.store.shard('ebb-sizing-0-of-1')).to.deep.equal([]);
  });

  it('restores nothing from an unreadable checkpoint, says which and why, and starts its history again', async () => {
    const store = new MemoryStore();
    store.saved.set('ebb-sizing-0-of-1', { kind: 'shard', text: shardText([{ v: 99, workload: 'shop/web' }]) });
    store.saved.set('ebb-sizing-1-of-2', { kind: 'shard', text: '{"v":1,"checkpoints":{}}' });
    const h = harness(store);
    await rounds(h, start, 3, 0.5, 300 * MiB);
    expect(h.logs.some((line) => /checkpoint in ebb-sizing-0-of-1 not restored .*version 99/.test(line))).to.equal(true);
    expect(h.logs).to.include('checkpoints in ebb-sizing-1-of-2 not restored (their histories start again): a shard must hold a "checkpoints" array');
    expect(target(h)).to.not.equal(undefined);
  });

  it('does nothing while not leading, and forgets what it knew when it stops leading', async () => {
    const h = harness();
    h.setLeader(false);
    await rounds(h, start, 5, 0.5, 300 * MiB);
    expect(h.store.writes).to.equal(0);
    expect(target(h)).to.equal(undefined);
    h.setLeader(true);
    const now = await rounds(h, start + 60_000, 5, 0.5, 300 * MiB);
    expect(target(h)).to.not.equal(undefined);
    h.setLeader(false);
    await h.loop.round(now);
    expect(target(h)).to.equal(undefined);
  });
});

function parseMi(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!match) throw new Error(`unexpected quantity ${quantity}`);
  const unit = { Ki: 1 / 1024, Mi: 1, Gi: 1024 }[match[2] as 'Ki' | 'Mi' | 'Gi'] ?? 1 / MiB;
  return Number(match[1]) * unit;
}
