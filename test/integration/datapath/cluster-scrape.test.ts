// The agent on a real control plane finds the interceptors to scrape through its pod informer
// (pods bound to its node, injected, Running), scrapes real interceptor processes on the pods'
// IPs, and serves their figures on /activity to a caller the real TokenReview says is the
// controller. Pods on another node are not its business, however busy they are.

import { expect } from 'chai';
import { eventually } from '../../fixtures/control-plane.ts';
import type { ActivityReport, WorkloadActivity } from '../../../src/protocol/activity.ts';
import { ebbNamespaces, serviceAccountToken, useCluster } from '../../fixtures/cluster-support.ts';
import { injectedPodTemplate, podPorts, runningPods, startPodProcesses, type PodPorts } from '../../fixtures/pods.ts';
import { agentMetric } from '../../fixtures/agents.ts';
import { reportWithinLoad, startLoad } from '../../fixtures/load.ts';
import { request, startClusterAgent } from '../../fixtures/processes.ts';
import { useServers } from '../../fixtures/suite.ts';

const namespace = 'shop';

describe('agent scraping on a real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, core } = useCluster({ nodes: 2 });
  const servers = useServers('all');
  let controllerToken: string;

  before(async () => {
    await ebbNamespaces(controlPlane().kubeConfig, namespace);
    controllerToken = await serviceAccountToken(controlPlane().kubeConfig, 'ebb-system', 'ebb-controller');
  });

  const createPod = (name: string, nodeName: string, ports: PodPorts) => {
    const template = injectedPodTemplate({ app: 'web' }, ports);
    return core.createNamespacedPod({ namespace, body: { metadata: { ...template.metadata, name }, spec: { ...template.spec, nodeName } } });
  };

  it('scrapes the injected pods on its node under load, and not those on another node', async () => {
    const [here, there] = controlPlane().nodeNames;
    const ports = await podPorts();
    await Promise.all([createPod('web-a', here!, ports), createPod('web-b', here!, ports), createPod('web-c', there!, ports)]);
    const pods = await runningPods(core, namespace, 'app=web', 3);
    const ipOf = (name: string) => pods.find((p) => p.metadata?.name === name)!.status!.podIP!;
    for (const pod of pods) expect(pod.status?.podIP).to.match(/^127\.10\.\d+\.\d+$/);
    for (const pod of pods) servers.push((await startPodProcesses(pod.status!.podIP!, ports, 'shop/web')).app);

    const agent = await startClusterAgent(controlPlane().kubeconfigPath, here!, { EBB_WINDOW_MS: '3000' });
    const report = async (): Promise<ActivityReport> => {
      const reply = await request(agent.ready.activity, '/activity', { Authorization: `Bearer ${controllerToken}` });
      expect(reply.status, reply.body).to.equal(200);
      return JSON.parse(reply.body) as ActivityReport;
    };
    const web = (r: ActivityReport): WorkloadActivity | undefined => r.workloads.find((w) => w.workload === 'shop/web');

    // Load on all three pods, the one elsewhere busiest, until the agent's 3 s window lies inside
    // it (30 s and the counts are bounds). What the clients served is counted from when every load
    // is under way (connections open, answering) to the end: the agent's window lies inside that.
    const loads = [
      startLoad(ports.listen, { host: ipOf('web-a'), concurrency: 2, durationMs: 30_000, maxRequests: 6_000 }),
      startLoad(ports.listen, { host: ipOf('web-b'), concurrency: 2, durationMs: 30_000, maxRequests: 6_000 }),
      startLoad(ports.listen, { host: ipOf('web-c'), concurrency: 4, durationMs: 30_000, maxRequests: 12_000 }),
    ];
    await eventually('the loads under way', () => (loads.every((load) => load.live.answered >= 10 || !load.running()) ? true : undefined));
    const from = { epochMs: Date.now(), ms: performance.now(), answered: loads[0]!.live.answered + loads[1]!.live.answered };
    const during = await reportWithinLoad(loads[0]!, 'shop/web', report, from.epochMs);
    const stillRunning = loads.map((load) => load.running());
    for (const load of loads) load.stop();
    const [a, b, c] = await Promise.all(loads.map((load) => load.done));
    const measuredSeconds = (performance.now() - from.ms) / 1000;
    expect(stillRunning, 'every load still running when the report was read').to.deep.equal([true, true, true]);
    for (const result of [a!, b!, c!]) expect([...result.statuses.keys()], JSON.stringify([...result.errors])).to.deep.equal([200]);

    const workload = web(during);
    expect(workload, JSON.stringify(during)).to.not.equal(undefined);
    expect(during.node).to.equal(here);
    expect(workload!.pods.map((p) => p.pod).sort()).to.deep.equal(['shop/web-a', 'shop/web-b']);
    expect(workload!.stalePods).to.equal(0);
    // Each pod serves ≈ 2 in flight (2 workers, 10 ms app); web-c's 4 must not be counted.
    expect(workload!.meanInFlight).to.be.within(2.5, 4.5);
    const servedHere = (a!.answered + b!.answered - from.answered) / measuredSeconds;
    expect(workload!.requestRate).to.be.closeTo(servedHere, servedHere * 0.25);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_scrape_targets')).to.equal(2);

    // A pod that leaves the node leaves the report.
    await core.deleteNamespacedPod({ name: 'web-b', namespace });
    await eventually('web-b gone from the report', async () =>
      web(await report())
        ?.pods.map((p) => p.pod)
        .join() === 'shop/web-a'
        ? true
        : undefined,
    );
  });
});
