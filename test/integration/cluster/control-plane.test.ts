// The ground every other integration test stands on: the real controllers, scheduler and KWOK
// behave as a cluster does for the APIs ebb uses (scale, eviction with PDBs, in-place resize).

import { expect } from 'chai';
import { PatchStrategy, PolicyV1Api, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { createNamespace, useCluster } from '../../fixtures/cluster-support.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { deployment } from '../../fixtures/deployments.ts';

const namespace = 'smoke';

/** The app's requests: what the scheduler places and the resize changes. */
const REQUESTS = { resources: { requests: { cpu: '100m', memory: '64Mi' } } };

describe('local control plane', function () {
  this.timeout(90_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 2 });

  before(async () => {
    await createNamespace(core, namespace);
  });

  const runningPods = async (app: string): Promise<V1Pod[]> =>
    (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items.filter(
      (pod) => pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp,
    );

  it('lists the KWOK nodes as Ready', async () => {
    const nodes = await core.listNode();
    expect(nodes.items.map((node) => node.metadata?.name).sort()).to.deep.equal(controlPlane().nodeNames);
  });

  it('runs a Deployment: ReplicaSet, scheduled pods, Running with loopback IPs', async () => {
    await apps.createNamespacedDeployment({ namespace, body: deployment(namespace, 'web', { replicas: 3, container: REQUESTS }) });
    const pods = await eventually('3 running pods', async () => {
      const running = await runningPods('web');
      return running.length === 3 ? running : undefined;
    });
    const replicaSets = await apps.listNamespacedReplicaSet({ namespace, labelSelector: 'app=web' });
    expect(replicaSets.items).to.have.length(1);
    for (const pod of pods) {
      expect(pod.metadata?.ownerReferences?.[0]?.kind).to.equal('ReplicaSet');
      expect(controlPlane().nodeNames).to.include(pod.spec?.nodeName);
      expect(pod.status?.podIP).to.match(/^127\.10\.\d+\.\d+$/);
    }
    expect(new Set(pods.map((pod) => pod.status?.podIP)).size).to.equal(3);
  });

  it('scales through the scale subresource to 0 and back to 2', async () => {
    const scaleTo = (replicas: number) =>
      apps.replaceNamespacedDeploymentScale({ name: 'web', namespace, body: { metadata: { name: 'web', namespace }, spec: { replicas } } });
    await scaleTo(0);
    await eventually('no pods left', async () =>
      (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items.length === 0 ? true : undefined,
    );
    const scale = await scaleTo(2);
    expect(scale.spec?.replicas).to.equal(2);
    await eventually('2 running pods', async () => ((await runningPods('web')).length === 2 ? true : undefined));
  });

  it('refuses an eviction with 429 while a PDB allows no disruption, and the pod stays', async () => {
    await apps.createNamespacedDeployment({ namespace, body: deployment(namespace, 'guarded', { container: REQUESTS }) });
    const policy = controlPlane().kubeConfig.makeApiClient(PolicyV1Api);
    await policy.createNamespacedPodDisruptionBudget({
      namespace,
      body: { metadata: { name: 'guarded' }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: 'guarded' } } } },
    });
    const [pod] = await eventually('the guarded pod running', async () => {
      const running = await runningPods('guarded');
      return running.length === 1 ? running : undefined;
    });
    // The disruption controller must have observed the budget before it can refuse anything.
    await eventually('the PDB observed', async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'guarded', namespace });
      return pdb.status?.observedGeneration === pdb.metadata?.generation && pdb.status?.expectedPods === 1 ? true : undefined;
    });
    const name = pod!.metadata!.name!;
    let status: number | undefined;
    try {
      await core.createNamespacedPodEviction({ name, namespace, body: { metadata: { name, namespace } } });
    } catch (error) {
      status = (error as { code?: number }).code;
    }
    expect(status).to.equal(429);
    const after = await core.readNamespacedPod({ name, namespace });
    expect(after.metadata?.deletionTimestamp).to.equal(undefined);
  });

  it("changes a pod's requests through the pods/resize subresource", async () => {
    const [pod] = await runningPods('web');
    const name = pod!.metadata!.name!;
    const resized = await core.patchNamespacedPodResize(
      { name, namespace, body: { spec: { containers: [{ name: 'app', resources: { requests: { cpu: '250m' } } }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(resized.spec?.containers[0]?.resources?.requests?.cpu).to.equal('250m');
    const reread = await core.readNamespacedPod({ name, namespace });
    expect(reread.spec?.containers[0]?.resources?.requests?.cpu).to.equal('250m');
    expect(reread.metadata?.uid).to.equal(pod!.metadata?.uid);
  });
});
