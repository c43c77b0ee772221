// The leader's right-sizing loop with its I/O replaced by data: usage reports in, recommendations,
// Events, metrics and checkpoints out, time stepped by the test.

import { expect } from 'chai';
import type { V1Deployment } from '@kubernetes/client-node';
import type { Collected } from '../../../src/controller/agents.ts';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';
import { SizingLoop, type CheckpointStorage } from '../../../src/controller/sizing.ts';
import type { Workload } from '../../../src/controller/workloads.ts';
import { DEFAULT_SIZING } from '../../../src/core/recommender/index.ts';
import type { WorkloadSettings } from '../../../src/core/settings.ts';
import type { StoredCheckpoint } from '../../../src/kube/sizing-checkpoints.ts';
import type { OomKill, UsageReport } from '../../../src/protocol/usage.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';

const MiB = 2 ** 20;
const start = Date.parse('2026-12-01T00:00:00Z');

class MemoryStore implements CheckpointStorage {
  readonly saved = new Map<WorkloadKey, string>();
  writes = 0;
  list(): Promise<StoredCheckpoint[]> {
    return Promise.resolve([...this.saved].map(([workload, text]) => ({ workload, text })));
  }
  write(workload: WorkloadKey, text: string): Promise<void> {
    this.writes++;
    this.saved.set(workload, text);
    return Promise.resolve();
  }
  delete(workload: WorkloadKey): Promise<void> {
    this.saved.delete(workload);
    return Promise.resolve();
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

  it('checkpoints at most once per interval per workload, and a new leader resumes from the checkpoint', async () => {
    const store = new MemoryStore();
    const first = harness(store);
    // Rounds at 0 … 60 s: written at the first and at 60 s; what it published then is what a successor gets back.
    const next = await rounds(first, start, 7, 0.5, 300 * MiB);
    expect(store.writes).to.equal(2);
    const atCheckpoint = first.loop.statusRecommendation('shop/web');
    await rounds(first, next, 5, 0.5, 300 * MiB); // up to 110 s: no write within the interval
    expect(store.writes).to.equal(2);
    const saved = store.saved.get('shop/web')!;
    expect(JSON.parse(saved)).to.include({ v: 1, workload: 'shop/web' });

    // The leader dies; another replica leads with no usage to pull yet: it starts from the checkpoint.
    const successor = harness(store);
    successor.feed([]);
    await successor.loop.round(start + 120_000);
    expect(successor.logs).to.include('recommender restored 1 workload checkpoints');
    const restored = successor.loop.statusRecommendation('shop/web');
    expect(restored?.containers.app?.cpu).to.equal(atCheckpoint?.containers.app?.cpu);
    expect(restored?.containers.app?.memory).to.equal(atCheckpoint?.containers.app?.memory);
  });

  it('spreads the checkpoints of many workloads over the interval instead of writing them all in one round', async () => {
    const store = new MemoryStore();
    const h = harness(store);
    const many: Workload[] = Array.from({ length: 600 }, (_, i) => ({ ...web, key: `shop/web-${i}` as WorkloadKey }));
    h.setWorkloads(many);
    const writesPerRound: number[] = [];
    for (let round = 0, now = start; round < 30; round++, now += 10_000) {
      const pods = many.map((workload) => ({
        pod: `${workload.key}-1`,
        workload: workload.key,
        containers: [{ container: 'app', cpuCores: 0.5, memoryBytes: 300 * MiB, at: now }],
      }));
      h.feed([{ node: 'node-a', generatedAt: now, scrapedAt: now, stale: false, pods, ooms: [] }]);
      const before = store.writes;
      await h.loop.round(now);
      writesPerRound.push(store.writes - before);
    }
    // 600 workloads, 10-s rounds, a 60-s interval: 100 a round on average, at most 150 (16 in the first, which has no previous round).
    expect(writesPerRound[0]).to.equal(16);
    expect(Math.max(...writesPerRound)).to.equal(150);
    expect(store.saved.size, 'every workload checkpointed within the first minute').to.equal(600);
    expect(writesPerRound.slice(0, 6).reduce((a, b) => a + b)).to.be.at.least(600);
    // Then each workload about once an interval: over the last 4 minutes, 3 or 4 times each.
    expect(writesPerRound.slice(6).reduce((a, b) => a + b)).to.be.within(600 * 3, 600 * 4);
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

  it('deletes the checkpoint of a Deployment that no longer exists, and keeps a sleeping one’s', async () => {
    const h = harness();
    const now = await rounds(h, start, 3, 0.5, 300 * MiB);
    h.feed([]); // asleep at zero: no pods, no usage
    await h.loop.round(now + 3_600_000);
    expect(h.store.saved.has('shop/web')).to.equal(true);
    expect(target(h)).to.not.equal(undefined);
    h.setWorkloads([]);
    await h.loop.round(now + 3_610_000);
    expect(h.store.saved.has('shop/web')).to.equal(false);
    expect(target(h)).to.equal(undefined);
  });

  it('restores nothing from an unreadable checkpoint, says so, and starts the history again', async () => {
    const store = new MemoryStore();
    store.saved.set('shop/web', '{"v":99}');
    const h = harness(store);
    await rounds(h, start, 3, 0.5, 300 * MiB);
    expect(
      h.logs.some((line) => /checkpoint of shop\/web not restored .*version 99/.test(line)),
      h.logs.join('\n'),
    ).to.equal(true);
    expect(target(h)).to.not.equal(undefined);
  });
});

function parseMi(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!match) throw new Error(`unexpected quantity ${quantity}`);
  const unit = { Ki: 1 / 1024, Mi: 1, Gi: 1024 }[match[2] as 'Ki' | 'Mi' | 'Gi'] ?? 1 / MiB;
  return Number(match[1]) * unit;
}
