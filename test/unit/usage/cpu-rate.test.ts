import { expect } from 'chai';
import fc from 'fast-check';
import { cpuCores, nextCpuHistory, type CpuHistory } from '../../../src/core/usage/cpu-rate.ts';
import { containerReadings } from '../../../src/core/usage/kubelet-resource.ts';
import { parsePrometheusText } from '../../../src/core/usage/prometheus-text.ts';
import { stepUsage } from '../../../src/core/usage/pod-usage.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';

const STARTED = 1_000_000;
/** The history after feeding samples [core-seconds, at ms] of a container started at `startedAt` (null: not reported). */
const feed = (samples: [number, number][], startedAt: number | null = STARTED, from?: CpuHistory) =>
  samples.reduce<CpuHistory | undefined>((history, [value, at]) => nextCpuHistory(history, { value, at }, startedAt ?? undefined), from);

describe('CPU rate from the cumulative counter', () => {
  it('is unknown after one sample, then Δcore-seconds / Δtime between the two newest', () => {
    const first = feed([[10, STARTED + 10_000]]);
    expect(cpuCores(first)).to.equal(undefined);
    expect(
      cpuCores(
        feed([
          [10, STARTED + 10_000],
          [12.5, STARTED + 20_000],
        ]),
      ),
    ).to.be.closeTo(0.25, 1e-12);
    expect(
      cpuCores(
        feed([
          [10, STARTED + 10_000],
          [12.5, STARTED + 20_000],
          [22.5, STARTED + 30_000],
        ]),
      ),
    ).to.be.closeTo(1, 1e-12);
  });

  it('keeps the rate when the kubelet serves the same sample again, and ignores an older one', () => {
    const history = feed([
      [10, STARTED + 10_000],
      [12, STARTED + 20_000],
    ]);
    expect(feed([[12, STARTED + 20_000]], STARTED, history)).to.equal(history);
    expect(feed([[11, STARTED + 15_000]], STARTED, history)).to.equal(history);
    expect(cpuCores(history)).to.be.closeTo(0.2, 1e-12);
  });

  it('starts over after a restart (the container started after the latest sample): no rate across it', () => {
    const before = feed([
      [100, STARTED + 10_000],
      [110, STARTED + 20_000],
    ]);
    const restartedAt = STARTED + 25_000;
    const after = feed([[1, STARTED + 30_000]], restartedAt, before);
    expect(cpuCores(after)).to.equal(undefined);
    expect(after).to.deep.equal({ latest: { value: 1, at: STARTED + 30_000 }, startedAt: restartedAt });
    expect(cpuCores(feed([[3, STARTED + 40_000]], restartedAt, after))).to.be.closeTo(0.2, 1e-12);
  });

  it('drops a decrease (no start time to tell a restart): unknown, never negative; the next interval counts again', () => {
    const decreased = feed(
      [
        [100, 10_000],
        [110, 20_000],
        [4, 30_000],
      ],
      null,
    );
    expect(cpuCores(decreased)).to.equal(undefined);
    expect(cpuCores(feed([[6, 40_000]], null, decreased))).to.be.closeTo(0.2, 1e-12);
  });

  it('is never negative and never NaN, whatever the samples', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.double({ min: 0, max: 1e6, noNaN: true }),
            fc.integer({ min: 0, max: 1e9 }),
            fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: undefined }),
          ),
          { maxLength: 30 },
        ),
        (samples) => {
          let history: CpuHistory | undefined;
          for (const [value, at, startedAt] of samples) {
            history = nextCpuHistory(history, { value, at }, startedAt);
            const cores = cpuCores(history);
            if (cores !== undefined) expect(cores >= 0 && Number.isFinite(cores), String(cores)).to.equal(true);
          }
        },
      ),
    );
  });
});

describe('stepUsage: one kubelet scrape to the usage of the opted-in pods', () => {
  const workloads: Record<string, WorkloadKey> = { 'shop/web-a': 'shop/web', 'shop/web-b': 'shop/web' };
  const workloadOf = (pod: string) => workloads[pod];
  const scrape = (cpu: Record<string, number>, memory: Record<string, number>, startSeconds = 1_700_000_000) =>
    Object.entries(cpu)
      .flatMap(([key, value]) => {
        const [pod, container] = key.split(':');
        return [
          `container_cpu_usage_seconds_total{container="${container}",namespace="shop",pod="${pod}"} ${value}`,
          `container_start_time_seconds{container="${container}",namespace="shop",pod="${pod}"} ${startSeconds}`,
        ];
      })
      .concat(
        Object.entries(memory).map(([key, value]) => {
          const [pod, container] = key.split(':');
          return `container_memory_working_set_bytes{container="${container}",namespace="shop",pod="${pod}"} ${value}`;
        }),
      )
      .join('\n');
  const readingsAt = (text: string, at: number) => containerReadings(parsePrometheusText(text).samples, at);
  const t0 = 1_700_000_100_000;

  it('reports memory at once, CPU from the second scrape, for the opted-in pods only, sorted', () => {
    const first = stepUsage(
      new Map(),
      readingsAt(scrape({ 'web-b:app': 5, 'web-a:app': 1, 'web-a:ebb-interceptor': 0.1, 'other:app': 9 }, { 'web-a:app': 100e6, 'other:app': 1 }), t0),
      workloadOf,
    );
    expect(first.pods).to.deep.equal([
      {
        pod: 'shop/web-a',
        workload: 'shop/web',
        containers: [
          { container: 'app', at: t0, memoryBytes: 100e6 },
          { container: 'ebb-interceptor', at: t0 },
        ],
      },
      { pod: 'shop/web-b', workload: 'shop/web', containers: [{ container: 'app', at: t0 }] },
    ]);
    const second = stepUsage(
      first.histories,
      readingsAt(scrape({ 'web-a:app': 3, 'web-a:ebb-interceptor': 0.15, 'web-b:app': 5 }, { 'web-a:app': 120e6 }), t0 + 10_000),
      workloadOf,
    );
    const [a, b] = second.pods;
    expect(a?.containers[0]).to.deep.include({ container: 'app', at: t0 + 10_000, memoryBytes: 120e6 });
    expect(a?.containers[0]?.cpuCores).to.be.closeTo(0.2, 1e-12);
    expect(a?.containers[1]?.cpuCores).to.be.closeTo(0.005, 1e-12);
    // An idle container is measured idle: zero here is a measurement, not a stand-in for unknown.
    expect(b?.containers[0]?.cpuCores).to.equal(0);
    expect([...second.histories.keys()].sort()).to.deep.equal(['shop/web-a/app', 'shop/web-a/ebb-interceptor', 'shop/web-b/app']);
  });

  it("uses the kubelet's own timestamps when it gives them, and forgets containers it no longer reports", () => {
    const stamped = (value: number, at: number) => `container_cpu_usage_seconds_total{container="app",namespace="shop",pod="web-a"} ${value} ${at}`;
    const first = stepUsage(new Map(), readingsAt(stamped(1, t0 - 3_000), t0), workloadOf);
    expect(first.pods[0]?.containers[0]?.at).to.equal(t0 - 3_000);
    const second = stepUsage(first.histories, readingsAt(stamped(3, t0 + 7_000), t0 + 10_000), workloadOf);
    expect(second.pods[0]?.containers[0]?.cpuCores).to.be.closeTo(0.2, 1e-12);
    const gone = stepUsage(second.histories, readingsAt('', t0 + 20_000), workloadOf);
    expect(gone).to.deep.equal({ histories: new Map(), pods: [] });
  });

  it('reads no usage from a negative or NaN sample, and none for a container it only knows the start of', () => {
    const text = [
      'container_cpu_usage_seconds_total{container="app",namespace="shop",pod="web-a"} NaN',
      'container_memory_working_set_bytes{container="app",namespace="shop",pod="web-a"} -1',
      'container_start_time_seconds{container="init",namespace="shop",pod="web-a"} 1700000000',
    ].join('\n');
    expect(stepUsage(new Map(), readingsAt(text, t0), workloadOf).pods).to.deep.equal([]);
  });
});
