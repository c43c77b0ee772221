// Admission never leaves a pod worse off, checked on the real API server: a Guaranteed pod stays
// Guaranteed (the API server's own status.qosClass), and namespaces with real ResourceQuota and
// LimitRange objects still get their pods: with a sidecar that carries the limits the quota
// tracks, or, when the quota has no room for it, without one and with the reason recorded.

import { expect } from 'chai';
import type { V1Pod, V1ResourceRequirements } from '@kubernetes/client-node';
import { INJECTION_LABEL } from '../../../src/core/annotations.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';
import { dryRunCreate, replicaSetPod, useWebhook } from '../../fixtures/webhook.ts';
import { deployment } from '../../fixtures/deployments.ts';
import { injectedRecord, sidecarOf, Workloads } from './workloads.ts';

describe('webhook: QoS class and ResourceQuotas through the API server', function () {
  this.timeout(60_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  useWebhook(controlPlane);
  let cluster: Workloads;

  before(() => {
    cluster = new Workloads(controlPlane().kubeConfig);
  });

  /** A pod of Deployment `name` as its ReplicaSet would create it, run as a server-side dry run. */
  const dryRunPod = (namespace: string, name: string, resources?: V1ResourceRequirements) => {
    const pod = replicaSetPod(namespace, name);
    if (resources) pod.spec!.containers[0]!.resources = resources;
    return dryRunCreate(controlPlane().kubeConfig, pod);
  };

  /** Waits until the quota controller has filled in the quota's status (until then the quota refuses every pod). */
  const quotaReady = (namespace: string, name: string) =>
    eventually(`ResourceQuota ${namespace}/${name} with a status`, async () => {
      const quota = await cluster.core.readNamespacedResourceQuota({ name, namespace });
      return quota.status?.hard && quota.status.used ? quota : undefined;
    });

  /** Waits until a dry-run pod shows that the webhook's caches hold the namespace's quota. */
  const webhookSees = (what: string, namespace: string, resources: V1ResourceRequirements | undefined, seen: (pod: V1Pod) => boolean) =>
    eventually(`the webhook's cache ${what}`, async () => {
      const pod = await dryRunPod(namespace, 'probe', resources);
      return seen(pod) ? true : undefined;
    });

  it('keeps a Guaranteed Deployment with a named port Guaranteed: the sidecar gets limits equal to its requests', async () => {
    await cluster.namespace('guaranteed', { [INJECTION_LABEL]: 'enabled' });
    const resources = { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '500m', memory: '256Mi' } };
    const [pod] = await cluster.deploy(deployment('guaranteed', 'web', { container: { resources } }));
    expect(injectedRecord(pod!)?.sidecar).to.equal('injected');
    expect(pod!.spec!.containers[0]!.ports?.[0]?.name).to.equal('ebb-app');
    expect(pod!.spec!.containers[0]!.resources).to.deep.equal(resources);
    expect(sidecarOf(pod!)!.resources).to.deep.equal({ requests: { cpu: '10m', memory: '128Mi' }, limits: { cpu: '10m', memory: '128Mi' } });
    expect(pod!.status?.qosClass).to.equal('Guaranteed');
  });

  it("fills in a Burstable pod's missing CPU request from the policy, and it stays Burstable", async () => {
    await cluster.namespace('burstable', { [INJECTION_LABEL]: 'enabled' });
    const [pod] = await cluster.deploy(deployment('burstable', 'web', { container: { resources: { requests: { memory: '64Mi' } } } }));
    expect(pod!.spec!.containers[0]!.resources).to.deep.equal({ requests: { memory: '64Mi', cpu: '100m' } });
    expect(sidecarOf(pod!)!.resources).to.deep.equal({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } });
    expect(pod!.status?.qosClass).to.equal('Burstable');
  });

  it('admits the injected pod in a namespace whose quota tracks limits.cpu (the limit from the LimitRange default)', async () => {
    const namespace = 'metered';
    await cluster.namespace(namespace, { [INJECTION_LABEL]: 'enabled' });
    await cluster.core.createNamespacedLimitRange({
      namespace,
      body: {
        metadata: { name: 'defaults' },
        spec: { limits: [{ type: 'Container', _default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' } }] },
      },
    });
    await cluster.core.createNamespacedResourceQuota({
      namespace,
      body: { metadata: { name: 'compute' }, spec: { hard: { 'limits.cpu': '4', 'limits.memory': '4Gi', 'requests.cpu': '2', 'requests.memory': '2Gi' } } },
    });
    await quotaReady(namespace, 'compute');
    // Until the webhook has seen the quota, a pod it injects is refused ("must specify limits.cpu").
    await webhookSees('holding the quota', namespace, undefined, (pod) => sidecarOf(pod)?.resources?.limits?.cpu !== undefined);

    const [pod] = await cluster.deploy(deployment(namespace, 'web'));
    expect(injectedRecord(pod!)?.sidecar).to.equal('injected');
    expect(sidecarOf(pod!)!.resources).to.deep.equal({ requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } });
    expect(pod!.status?.qosClass).to.equal('Burstable');
    // The quota counts the sidecar: the app's defaults (500m, 256Mi) and the sidecar's limits.
    const counted = await eventually('the quota counting the pod', async () => {
      const quota = await cluster.core.readNamespacedResourceQuota({ name: 'compute', namespace });
      return quota.status?.used?.['limits.cpu'] === '1' ? quota.status.used : undefined;
    });
    expect(counted).to.deep.include({ 'limits.cpu': '1', 'limits.memory': '384Mi', 'requests.cpu': '110m', 'requests.memory': '192Mi' });
  });

  it('admits the pod without the sidecar when the quota has no room for it, and says which quota, resource and how much', async () => {
    const namespace = 'full';
    const resources = { requests: { cpu: '100m', memory: '64Mi' } };
    await cluster.namespace(namespace, { [INJECTION_LABEL]: 'enabled' });
    await cluster.core.createNamespacedResourceQuota({ namespace, body: { metadata: { name: 'compute' }, spec: { hard: { 'requests.cpu': '100m' } } } });
    await quotaReady(namespace, 'compute');
    await webhookSees('holding the quota', namespace, resources, (pod) => injectedRecord(pod)?.sidecar.includes('ResourceQuota') === true);

    const [pod] = await cluster.deploy(deployment(namespace, 'web', { container: { resources } }));
    expect(pod!.spec!.initContainers).to.equal(undefined);
    expect(pod!.spec!.containers[0]!.ports?.[0]?.name, 'the port is not taken over without a sidecar').to.equal('http');
    expect(injectedRecord(pod!)?.sidecar).to.equal(
      'none: ResourceQuota "compute" has no room for the sidecar: requests.cpu 10m missing (hard 100m, used 0, this pod 100m + the sidecar 10m)',
    );
    expect(pod!.status?.qosClass).to.equal('Burstable');
  });
});
