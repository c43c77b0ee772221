// Right-sizing end to end on a real control plane: KWOK plays the kubelet and serves the usage a
// ClusterResourceUsage sets; the real agent reads it from its node's /metrics/resource; the real
// controller (leader) pulls it, recommends, publishes the recommendation in ebb.dev/status, its
// metrics and an Event, and checkpoints it; the real webhook sizes new pods from it. A KWOK stage
// plays an OOM kill; a SIGKILLed leader's successor resumes from the checkpoint.

import { expect } from 'chai';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { STATUS_ANNOTATION } from '../../../src/core/annotations.ts';
import { recommendationFromStatus, type ContainerRequests } from '../../../src/core/recommendation.ts';
import { SHARD_KEY, shardName } from '../../../src/kube/sizing-checkpoints.ts';
import { clusterResourceUsage, createKwokObject } from '../../../src/localcluster/kwok-metrics.ts';
import { TEST_OOM_KILL_ANNOTATION } from '../../../src/localcluster/kwok-stages.ts';
import { optedInNamespace, serviceAccountToken, useCluster } from '../../fixtures/cluster-support.ts';
import { runningPods } from '../../fixtures/pods.ts';
import { agentMetric, startUsageAgent } from '../../fixtures/agents.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { deployment } from '../../fixtures/deployments.ts';
import { startController, type ControllerReady } from '../../fixtures/controller.ts';
import { killAll, type AgentReady, type Started } from '../../fixtures/processes.ts';
import { useWebhook } from '../../fixtures/webhook.ts';

const namespace = 'shop';
const MiB = 2 ** 20;
const CHECKPOINT_INTERVAL_MS = 2_000;

describe('right-sizing on the real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 1 });
  useWebhook(controlPlane);
  let controllerToken: string;
  let agent: Started<AgentReady>;
  let controller: Started<ControllerReady>;

  const recommendation = async (): Promise<ContainerRequests | undefined> => {
    const deployment = await apps.readNamespacedDeployment({ name: 'web', namespace });
    return recommendationFromStatus(deployment.metadata?.annotations?.[STATUS_ANNOTATION])?.app;
  };
  const events = async (reason: string) => (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=web,reason=${reason}` })).items;
  const startLeader = (identity: string) =>
    startController(controlPlane(), identity, controllerToken, {
      EBB_AGENT_URLS: `http://127.0.0.1:${agent.ready.activity}`,
      EBB_ACTIVATOR_ADDRESSES: '192.0.2.10',
      EBB_USAGE_INTERVAL_MS: '1000',
      EBB_CHECKPOINT_INTERVAL_MS: String(CHECKPOINT_INTERVAL_MS),
      EBB_LEASE_DURATION_MS: '3000',
      EBB_LEASE_RENEW_DEADLINE_MS: '2000',
      EBB_LEASE_RETRY_PERIOD_MS: '500',
    });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(controller.output.slice(-30).join('\n'));
  });

  before(async function () {
    this.timeout(120_000);
    await optedInNamespace(controlPlane().kubeConfig, namespace);
    controllerToken = await serviceAccountToken(controlPlane().kubeConfig, 'ebb-system', 'ebb-controller');

    // Every app container in the namespace uses 400m and 300Mi, from its first scrape on.
    await createKwokObject(
      controlPlane().kubeConfig,
      clusterResourceUsage('shop-usage', { matchNamespaces: [namespace] }, [
        { containers: ['app'], usage: { cpu: { value: '400m' }, memory: { value: '300Mi' } } },
      ]),
    );
    await apps.createNamespacedDeployment({
      namespace,
      body: deployment(namespace, 'web', {
        replicas: 2,
        annotations: { 'ebb.dev/min-replicas': '2' },
        container: { resources: { requests: { cpu: '100m', memory: '64Mi' } } },
      }),
    });
    await runningPods(core, namespace, 'app=web', 2);
    const [node] = controlPlane().nodeNames;
    agent = await startUsageAgent(controlPlane(), node!);
    controller = await startLeader('controller-a');
  });
  after(async () => {
    await killAll();
  });

  it("recommends from the kubelet's figures: ebb.dev/status, metrics and an Event", async () => {
    const app = await eventually('a recommendation for app in ebb.dev/status', async () => {
      const current = await recommendation();
      return current?.cpuMillis !== undefined && current.memoryBytes !== undefined ? current : undefined;
    });
    // Never below what is used; with minutes of history the recommendation is raise-only and carries
    // the doubt (at most ×2) on top of the margin (+8 % CPU, +5 % memory) and its rounding.
    expect(app.raiseOnly).to.equal(true);
    expect(app.cpuMillis)
      .to.be.at.least(400)
      .and.at.most(2 * 400 * 1.08 * 1.1);
    expect(app.memoryBytes)
      .to.be.at.least(300 * MiB)
      .and.at.most(2 * 300 * 1.05 * MiB + MiB);
    const series = `ebb_recommendation_target{namespace="${namespace}",deployment="web",container="app",resource="memory"}`;
    expect(await agentMetric(controller.ready.port, series)).to.be.at.least(300 * MiB);
    const changed = await eventually('a RecommendationChanged Event', async () =>
      (await events('RecommendationChanged')).length > 0 ? await events('RecommendationChanged') : undefined,
    );
    expect(changed[0]?.type).to.equal('Normal');
    expect(changed[0]?.message).to.match(/^app: cpu \S+ \(\S+–\S+\), memory \S+ \(\S+–\S+\), confidence/);
  });

  it("sizes a new pod of the workload with the recommendation (the webhook's initial mode)", async () => {
    const app = (await recommendation())!;
    const before = await runningPods(core, namespace, 'app=web', 2);
    const known = new Set(before.map((pod) => pod.metadata?.name));
    await core.deleteNamespacedPod({ name: before[0]!.metadata!.name!, namespace, gracePeriodSeconds: 0 });
    const replacement = await eventually('the replacement pod', async () =>
      (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items.find(
        (pod: V1Pod) => !known.has(pod.metadata?.name) && !pod.metadata?.deletionTimestamp,
      ),
    );
    const requests = replacement.spec?.containers.find((container) => container.name === 'app')?.resources?.requests;
    const current = (await recommendation())!;
    // The recommendation may have moved within the tolerance between the two reads.
    expect([app.cpuMillis, current.cpuMillis].map((millis) => `${millis}m`)).to.include(requests?.cpu);
    expect(requests?.memory, JSON.stringify(requests)).to.match(/Mi$/);
    expect([app.memoryBytes, current.memoryBytes].map((bytes) => `${bytes! / MiB}Mi`)).to.include(requests?.memory);
  });

  it('raises the memory target after an OOM kill, with a Warning Event', async () => {
    const before = (await recommendation())!.memoryBytes!;
    const [victim] = await runningPods(core, namespace, 'app=web', 2);
    await core.patchNamespacedPod(
      { name: victim!.metadata!.name!, namespace, body: { metadata: { annotations: { [TEST_OOM_KILL_ANNOTATION]: 'app' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const oom = await eventually('an OOMKilled Event', async () => ((await events('OOMKilled')).length > 0 ? await events('OOMKilled') : undefined));
    expect(oom[0]?.type).to.equal('Warning');
    expect(oom[0]?.message).to.include(`pod ${namespace}/${victim!.metadata!.name}`);
    const after = await eventually('a higher memory target', async () => {
      const memory = (await recommendation())?.memoryBytes;
      return memory !== undefined && memory > before ? memory : undefined;
    });
    expect(after).to.be.greaterThan(before);
  });

  it('resumes from the checkpoint when the leader is SIGKILLed', async () => {
    // The leader checkpoints every 2 s while samples arrive: read one, then kill the leader.
    const series = `ebb_recommendation_target{namespace="${namespace}",deployment="web",container="app",resource="memory"}`;
    // One workload: one shard holds it.
    const configMaps = () => core.readNamespacedConfigMap({ name: shardName(0, 1), namespace: 'ebb-system' });
    const saved = await eventually('a checkpoint', async () => (await configMaps().catch(() => undefined))?.data?.[SHARD_KEY]);
    const { checkpoints } = JSON.parse(saved) as { checkpoints: unknown[] };
    expect(checkpoints).to.have.length(1);
    expect(checkpoints[0]).to.include({ v: 1, workload: 'shop/web' });
    const lastTarget = await agentMetric(controller.ready.port, series);
    controller.child.kill('SIGKILL');

    // The successor pulls the same agent; the moment it leads, before any new sample can move the
    // target beyond the tolerance, it publishes what the checkpoint holds.
    controller = await startLeader('controller-b');
    await eventually('controller-b restored the checkpoint', () =>
      controller.output.some((line) => line.includes('recommender restored 1 workload checkpoints')) ? true : undefined,
    );
    const resumed = await eventually("controller-b's memory target", () => agentMetric(controller.ready.port, series));
    expect(Math.abs(resumed - lastTarget!) / lastTarget!, `resumed ${resumed}, was ${lastTarget}`).to.be.at.most(0.1);
  });
});
