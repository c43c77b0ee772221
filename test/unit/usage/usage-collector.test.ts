// The agent's usage collector with its kubelet and pods replaced and its clock held by the test:
// rates from consecutive scrapes, staleness that keeps the last figures, OOM kills reported once.

import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { Clock } from '../../../agent/node/clock.ts';
import { UsageCollector } from '../../../agent/node/usage-collector.ts';

const T0 = Date.UTC(2026, 0, 1);
/** The collector's clock: the test moves `now`. */
class HeldClock implements Clock {
  now = T0;
  monotonicMs = (): number => this.now;
  epochMs = (): number => this.now;
}
const clock = new HeldClock();

const injected = (name: string, workload?: string): V1Pod => ({
  metadata: {
    namespace: 'shop',
    name,
    annotations: workload ? { 'ebb.dev/injected': JSON.stringify({ v: 1, workload, settings: {}, sidecar: 'injected' }) } : {},
  },
  spec: { containers: [{ name: 'app', image: 'app', resources: { requests: { memory: '64Mi' }, limits: { memory: '128Mi' } } }] },
  status: { containerStatuses: [{ name: 'app', image: 'app', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] },
});
const metrics = (pod: string, cpuSeconds: number, memoryBytes: number) =>
  [
    `container_cpu_usage_seconds_total{container="app",namespace="shop",pod="${pod}"} ${cpuSeconds}`,
    `container_memory_working_set_bytes{container="app",namespace="shop",pod="${pod}"} ${memoryBytes}`,
    `container_start_time_seconds{container="app",namespace="shop",pod="${pod}"} ${(T0 - 60_000) / 1000}`,
  ].join('\n');

describe('UsageCollector', () => {
  let pods: V1Pod[];
  /** What the kubelet answers next: text, or an error. */
  let kubelet: string | Error;
  let failures: number;
  let logged: Record<string, unknown>[];
  let collector: UsageCollector;

  beforeEach(() => {
    clock.now = T0;
    pods = [injected('web-a', 'shop/web'), injected('plain')];
    failures = 0;
    logged = [];
    collector = new UsageCollector(
      { pods: () => pods, scrape: () => (kubelet instanceof Error ? Promise.reject(kubelet) : Promise.resolve(kubelet)) },
      { node: 'node-a', intervalMs: 10_000, clock, onScrapeFailure: () => failures++, log: (level, msg, fields) => logged.push({ level, msg, ...fields }) },
    );
  });

  it('reports nothing and nothing stale before its first scrape', () => {
    expect(collector.report()).to.deep.equal({ node: 'node-a', generatedAt: T0, scrapedAt: null, stale: false, pods: [], ooms: [] });
  });

  it("reports the opted-in pods' memory at once and their CPU rate from the second scrape; other pods never", async () => {
    kubelet = `${metrics('web-a', 10, 50e6)}\n${metrics('plain', 99, 1)}`;
    await collector.collect();
    expect(collector.report().pods).to.deep.equal([{ pod: 'shop/web-a', workload: 'shop/web', containers: [{ container: 'app', at: T0, memoryBytes: 50e6 }] }]);
    clock.now += 10_000;
    kubelet = metrics('web-a', 13, 60e6);
    await collector.collect();
    const report = collector.report();
    expect(report).to.deep.include({ scrapedAt: T0 + 10_000, stale: false });
    expect(report.pods[0]?.containers[0]).to.deep.equal({ container: 'app', at: T0 + 10_000, cpuCores: 0.3, memoryBytes: 60e6 });
  });

  it('marks a failed scrape stale with the error and keeps the last figures, never zeros; logs the failure once', async () => {
    kubelet = metrics('web-a', 10, 50e6);
    await collector.collect();
    const before = collector.report().pods;
    kubelet = new Error('GET https://127.0.0.1:10250/metrics/resource: connect ECONNREFUSED');
    for (let round = 0; round < 3; round++) {
      clock.now += 10_000;
      await collector.collect();
    }
    const report = collector.report();
    expect(report).to.deep.include({ stale: true, error: 'GET https://127.0.0.1:10250/metrics/resource: connect ECONNREFUSED', scrapedAt: T0 });
    expect(report.pods).to.deep.equal(before);
    expect(failures).to.equal(3);
    expect(logged.filter((entry) => entry.msg === 'kubelet scrape failed')).to.have.length(1);

    kubelet = metrics('web-a', 11, 50e6);
    await collector.collect();
    expect(collector.report()).to.deep.include({ stale: false, scrapedAt: clock.now });
    expect(collector.report()).to.not.have.property('error');
    expect(logged.at(-1)).to.deep.include({ msg: 'kubelet scrape recovered' });
  });

  it('reports an OOM kill from the pod statuses once, also while the kubelet cannot be read', async () => {
    kubelet = new Error('unreachable');
    const killedAt = new Date(T0 - 1_000);
    pods[0]!.status!.containerStatuses = [
      {
        name: 'app',
        image: 'app',
        imageID: '',
        ready: true,
        restartCount: 1,
        state: { running: {} },
        lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: killedAt } },
      },
    ];
    pods[1]!.status!.containerStatuses = structuredClone(pods[0]!.status!.containerStatuses);
    await collector.collect();
    await collector.collect();
    // The record's fields are oom-kills.test.ts's subject; here: one kill, of this pod, with its memory.
    const [kill, ...more] = collector.report().ooms;
    expect(more, 'reported once, and not for the pod that is not opted in').to.deep.equal([]);
    expect(kill).to.deep.include({ pod: 'shop/web-a', restartCount: 1, at: killedAt.getTime(), memoryLimitBytes: 128 * 2 ** 20 });
  });
});
