import { expect } from 'chai';
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { OOM_REPORT_WINDOW_MS, recordOomKills, reportedOomKills, type OomLedger, type WorkloadPod } from '../../../src/core/usage/oom-kills.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

function pod(statuses: V1ContainerStatus[], extra: Partial<V1Pod> = {}): WorkloadPod {
  return {
    workload: 'shop/web',
    pod: {
      metadata: { namespace: 'shop', name: 'web-a' },
      spec: {
        containers: [{ name: 'app', image: 'app', resources: { requests: { memory: '128Mi' }, limits: { memory: '256Mi' } } }],
        initContainers: [{ name: 'ebb-interceptor', image: 'ebb', restartPolicy: 'Always', resources: { requests: { memory: '32Mi' } } }],
      },
      status: { containerStatuses: statuses },
      ...extra,
    },
  };
}

const running = (restartCount: number): V1ContainerStatus => ({ name: 'app', image: 'app', imageID: '', ready: true, restartCount, state: { running: {} } });
const oomLastState = (restartCount: number, finishedAt?: Date, containerID?: string): V1ContainerStatus => ({
  ...running(restartCount),
  lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', ...(finishedAt ? { finishedAt } : {}), ...(containerID ? { containerID } : {}) } },
});

/** Observes the pods at each time in turn; returns what is reported after each look. */
function observe(steps: [number, WorkloadPod[]][]): ReturnType<typeof reportedOomKills>[] {
  let ledger: OomLedger = new Map();
  return steps.map(([now, pods]) => {
    ledger = recordOomKills(ledger, pods, now);
    return reportedOomKills(ledger, now);
  });
}

describe('OOM kills from pod statuses', () => {
  it('reports a restart after an OOM kill once, with the request and limit from the spec, for ten minutes', () => {
    const finishedAt = new Date(NOW - 2_000);
    const seen = pod([oomLastState(1, finishedAt)]);
    const reports = observe([
      [NOW - 10_000, [pod([running(0)])]],
      [NOW, [seen]],
      [NOW + 5_000, [seen]],
      [finishedAt.getTime() + OOM_REPORT_WINDOW_MS - 1, [seen]],
      [finishedAt.getTime() + OOM_REPORT_WINDOW_MS, [seen]],
    ]);
    const kill = {
      pod: 'shop/web-a',
      workload: 'shop/web',
      container: 'app',
      at: finishedAt.getTime(),
      restartCount: 1,
      memoryRequestBytes: 128 * 2 ** 20,
      memoryLimitBytes: 256 * 2 ** 20,
    };
    expect(reports).to.deep.equal([[], [kill], [kill], [kill], []]);
  });

  it('reports a container still terminated by the OOM killer, and the same kill seen again after the restart only once', () => {
    const finishedAt = new Date(NOW - 1_000);
    const terminated: V1ContainerStatus = {
      ...running(0),
      state: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt, containerID: 'containerd://dead' } },
    };
    const reports = observe([
      [NOW, [pod([terminated])]],
      [NOW + 1_000, [pod([oomLastState(1, finishedAt, 'containerd://dead')])]],
    ]);
    expect(reports[1]).to.deep.equal(reports[0]);
    expect(reports[1]).to.have.length(1);
    expect(reports[1]?.[0]).to.deep.include({ container: 'app', restartCount: 0 });
  });

  it('reports each new OOM kill of a crash-looping container, told apart by restart count when the status gives no more', () => {
    const reports = observe([
      [NOW, [pod([oomLastState(1)])]],
      [NOW + 30_000, [pod([oomLastState(2)])]],
    ]);
    expect(reports[1]?.map((kill) => [kill.restartCount, kill.at])).to.deep.equal([
      [1, NOW],
      [2, NOW + 30_000],
    ]);
  });

  it('never reports a kill that finished before the window, e.g. one the agent finds when it starts', () => {
    const old = pod([oomLastState(3, new Date(NOW - OOM_REPORT_WINDOW_MS - 1))]);
    expect(
      observe([
        [NOW, [old]],
        [NOW + 1_000, [old]],
      ]),
    ).to.deep.equal([[], []]);
  });

  it('does not report an OOM kill seen without a finish time again when its ten minutes are over', () => {
    const seen = pod([oomLastState(1)]);
    const reports = observe([
      [NOW, [seen]],
      [NOW + OOM_REPORT_WINDOW_MS, [seen]],
      [NOW + 2 * OOM_REPORT_WINDOW_MS, [seen]],
    ]);
    expect(reports.map((report) => report.length)).to.deep.equal([1, 0, 0]);
  });

  it('keeps reporting a kill after its pod is gone, until its ten minutes are over', () => {
    const reports = observe([
      [NOW, [pod([oomLastState(1)])]],
      [NOW + 60_000, []],
      [NOW + OOM_REPORT_WINDOW_MS, []],
    ]);
    expect(reports.map((report) => report.length)).to.deep.equal([1, 1, 0]);
  });

  it('takes the resources the kubelet applied over the spec, and covers native sidecars', () => {
    const sidecar: V1ContainerStatus = { ...oomLastState(1), name: 'ebb-interceptor' };
    const resized: V1ContainerStatus = { ...oomLastState(2), resources: { requests: { memory: '200Mi' }, limits: { memory: '300Mi' } } };
    const [kills] = observe([[NOW, [pod([], { status: { containerStatuses: [resized], initContainerStatuses: [sidecar] } })]]]);
    expect(kills?.map((kill) => [kill.container, kill.memoryRequestBytes, kill.memoryLimitBytes])).to.deep.equal([
      ['app', 200 * 2 ** 20, 300 * 2 ** 20],
      ['ebb-interceptor', 32 * 2 ** 20, undefined],
    ]);
  });

  it('ignores other terminations', () => {
    const errored: V1ContainerStatus = { ...running(1), lastState: { terminated: { exitCode: 1, reason: 'Error' } } };
    expect(observe([[NOW, [pod([errored])]]])).to.deep.equal([[]]);
  });
});
