// The usage signal on a real control plane: KWOK plays every node's kubelet and serves its
// /metrics/resource from ResourceUsage objects; the agent finds its own node's endpoint from the
// Node (address, daemonEndpoints port, resource-metrics-path annotation), reads it over TLS
// against the cluster CA, and serves the CPU rate and working set of the opted-in pods on its
// node on GET /usage to the controller's identity (real TokenReview). A KWOK stage of ebb's plays
// the kubelet restarting an OOM-killed container; stopping KWOK makes the kubelet unreachable.

import { expect } from 'chai';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { eventually } from '../../fixtures/control-plane.ts';
import { ebbNamespaces, serviceAccountToken, useCluster } from '../../fixtures/cluster-support.ts';
import { runningPods } from '../../fixtures/pods.ts';
import { agentMetric, startUsageAgent } from '../../fixtures/agents.ts';
import { killAll, request, type AgentReady, type Started } from '../../fixtures/processes.ts';
import { INJECTED_ANNOTATION } from '../../../src/core/annotations.ts';
import { createKwokObject, resourceUsage } from '../../../src/localcluster/kwok-metrics.ts';
import { TEST_OOM_KILL_ANNOTATION } from '../../../src/localcluster/kwok-stages.ts';
import { USAGE_PATH, type UsageReport } from '../../../src/protocol/usage.ts';

const namespace = 'shop';
const MiB = 2 ** 20;

describe('usage from the kubelet on a real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, core } = useCluster({ nodes: 2 });
  let controllerToken: string;
  let agent: Started<AgentReady>;

  const usage = async (): Promise<UsageReport> => {
    const reply = await request(agent.ready.activity, USAGE_PATH, { Authorization: `Bearer ${controllerToken}` });
    expect(reply.status, reply.body).to.equal(200);
    return JSON.parse(reply.body) as UsageReport;
  };
  const pod = (name: string, nodeName: string, workload: string | undefined): V1Pod => ({
    metadata: {
      name,
      labels: { app: 'web' },
      annotations: workload ? { [INJECTED_ANNOTATION]: JSON.stringify({ v: 1, workload, settings: {}, sidecar: 'injected' }) } : {},
    },
    spec: {
      nodeName,
      // The interceptor as a plain container (clusters without native sidecars): KWOK, like a
      // kubelet, reports it; it reports no native sidecar.
      containers: [
        { name: 'app', image: 'registry.example/app:1', resources: { requests: { memory: '64Mi' }, limits: { memory: '96Mi' } } },
        { name: 'ebb-interceptor', image: 'registry.example/ebb:test', resources: { requests: { memory: '16Mi' }, limits: { memory: '32Mi' } } },
      ],
    },
  });

  before(async () => {
    await ebbNamespaces(controlPlane().kubeConfig, namespace);
    controllerToken = await serviceAccountToken(controlPlane().kubeConfig, 'ebb-system', 'ebb-controller');

    const [here, there] = controlPlane().nodeNames;
    // Usage first: a pod KWOK runs without one reports zeros.
    const usages = (cpu: string, memory: string) => [
      { containers: ['app'], usage: { cpu: { value: cpu }, memory: { value: memory } } },
      { containers: ['ebb-interceptor'], usage: { cpu: { value: '10m' }, memory: { value: '12Mi' } } },
    ];
    await createKwokObject(controlPlane().kubeConfig, resourceUsage(namespace, 'web-a', usages('250m', '48Mi')));
    await createKwokObject(controlPlane().kubeConfig, resourceUsage(namespace, 'web-b', usages('2', '1Gi')));
    await createKwokObject(controlPlane().kubeConfig, resourceUsage(namespace, 'plain', usages('2', '1Gi')));
    for (const body of [pod('web-a', here!, 'shop/web'), pod('web-b', there!, 'shop/web'), pod('plain', here!, undefined)])
      await core.createNamespacedPod({ namespace, body });
    await runningPods(core, namespace, 'app=web', 3);

    agent = await startUsageAgent(controlPlane(), here!);
  });
  after(async () => {
    await killAll();
  });

  it("reports each container's CPU rate and working set for the opted-in pods on its node only", async () => {
    const report = await eventually('web-a with a CPU rate on /usage', async () => {
      const latest = await usage();
      return latest.pods[0]?.containers.every((container) => container.cpuCores !== undefined) ? latest : undefined;
    });
    expect(report).to.deep.include({ node: controlPlane().nodeNames[0], stale: false, ooms: [] });
    expect(report.pods.map((entry) => [entry.pod, entry.workload])).to.deep.equal([['shop/web-a', 'shop/web']]);
    const [app, interceptor] = report.pods[0]!.containers;
    expect(app).to.deep.include({ container: 'app', memoryBytes: 48 * MiB });
    expect(interceptor).to.deep.include({ container: 'ebb-interceptor', memoryBytes: 12 * MiB });
    // Δcore-seconds over the agent's Δtime between scrapes 0.5 s apart: a few ms of jitter either way.
    expect(app!.cpuCores).to.be.closeTo(0.25, 0.05);
    expect(interceptor!.cpuCores).to.be.closeTo(0.01, 0.002);
    expect(app!.at)
      .to.be.at.most(report.scrapedAt!)
      .and.at.least(report.scrapedAt! - 1);
    expect(report.generatedAt).to.be.at.least(report.scrapedAt!);
    // Only for the controller, as /activity.
    expect((await request(agent.ready.activity, USAGE_PATH)).status).to.equal(401);
  });

  it("reports an OOM kill once, with the container's memory request and limit", async () => {
    await core.patchNamespacedPod(
      { name: 'web-a', namespace, body: { metadata: { annotations: { [TEST_OOM_KILL_ANNOTATION]: 'app' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const reported = await eventually('the OOM kill on /usage', async () => {
      const latest = await usage();
      return latest.ooms.length > 0 ? latest : undefined;
    });
    const status = (await core.readNamespacedPod({ name: 'web-a', namespace })).status?.containerStatuses?.find((container) => container.name === 'app');
    const killedAt = status?.lastState?.terminated?.finishedAt;
    expect(status?.restartCount, 'KWOK restarted the container once').to.equal(1);
    expect(reported.ooms).to.deep.equal([
      {
        pod: 'shop/web-a',
        workload: 'shop/web',
        container: 'app',
        at: new Date(killedAt!).getTime(),
        restartCount: 1,
        memoryRequestBytes: 64 * MiB,
        memoryLimitBytes: 96 * MiB,
      },
    ]);
    // Two scrapes later the same kill is still the only one.
    await eventually('two more scrapes', async () => ((await usage()).scrapedAt! >= reported.scrapedAt! + 1_000 ? true : undefined));
    expect((await usage()).ooms).to.deep.equal(reported.ooms);
  });

  // Last: it stops KWOK, every node's kubelet.
  it('turns stale when the kubelet is unreachable: the error, the last figures kept, never zeros', async () => {
    const before = await usage();
    await controlPlane()
      .processes.find((process) => process.name === 'kwok')!
      .stop();
    const stale = await eventually('a stale report', async () => {
      const latest = await usage();
      return latest.stale ? latest : undefined;
    });
    expect(stale.error).to.match(/ECONNREFUSED/);
    expect(stale.scrapedAt).to.be.at.least(before.scrapedAt!);
    const figures = stale.pods.flatMap((entry) => entry.containers);
    expect(figures.map((container) => container.container)).to.deep.equal(['app', 'ebb-interceptor']);
    for (const container of figures) {
      expect(container.memoryBytes, container.container).to.be.above(0);
      expect(container.cpuCores, container.container).to.be.above(0);
    }
    // Later reports keep the same figures and say so; the failures are counted.
    await eventually('more failed scrapes', async () =>
      (await agentMetric(agent.ready.activity, 'ebb_agent_kubelet_scrape_failures_total'))! >= 3 ? true : undefined,
    );
    const later = await usage();
    expect(later).to.deep.include({ stale: true, scrapedAt: stale.scrapedAt, pods: stale.pods });
  });
});
