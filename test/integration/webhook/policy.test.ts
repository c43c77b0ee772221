// The policy ConfigMap ebb-system/ebb-policy is hot-reloaded by the running webhook: new pods get
// the new defaults, and an invalid edit keeps the last good policy.

import { expect } from 'chai';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { INJECTION_LABEL } from '../../../src/core/annotations.ts';
import { DEFAULT_EBB_NAMESPACE } from '../../../src/core/opt-in.ts';
import { POLICY_CONFIGMAP, POLICY_KEY } from '../../../src/kube/cluster-cache.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';
import { dryRunCreate, replicaSetPod, useWebhook } from '../../fixtures/webhook.ts';
import { deployment } from '../../fixtures/deployments.ts';
import { injectedRecord, Workloads } from './workloads.ts';

const NAMESPACE = 'shop';

const policy = (yaml: string): V1ConfigMap => ({ metadata: { name: POLICY_CONFIGMAP, namespace: DEFAULT_EBB_NAMESPACE }, data: { [POLICY_KEY]: yaml } });

describe('webhook: policy hot reload', function () {
  this.timeout(60_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  const webhook = useWebhook(controlPlane);
  let cluster: Workloads;

  const targetConcurrencyOfNewPods = async () => {
    const pod = await dryRunCreate(controlPlane().kubeConfig, replicaSetPod(NAMESPACE, 'web'));
    return pod.metadata?.annotations?.['ebb.dev/target-concurrency'];
  };
  const until = (value: string) =>
    eventually(`new pods with target-concurrency ${value}`, async () => ((await targetConcurrencyOfNewPods()) === value ? true : undefined));

  before(async () => {
    cluster = new Workloads(controlPlane().kubeConfig);
    await cluster.namespace(NAMESPACE, { [INJECTION_LABEL]: 'enabled' });
    await cluster.namespace(DEFAULT_EBB_NAMESPACE);
  });

  it('gives new pods the policy defaults once the ConfigMap is created', async () => {
    expect(await targetConcurrencyOfNewPods()).to.equal('10');
    await cluster.core.createNamespacedConfigMap({ namespace: DEFAULT_EBB_NAMESPACE, body: policy('defaults:\n  target-concurrency: 7\n') });
    await until('7');
    const [pod] = await cluster.deploy(deployment(NAMESPACE, 'web'));
    expect(pod!.metadata?.annotations?.['ebb.dev/target-concurrency']).to.equal('7');
    expect(injectedRecord(pod!)?.settings['target-concurrency']).to.equal('7');
  });

  it('keeps the last good policy after an invalid edit, and takes the next valid one', async () => {
    await cluster.core.replaceNamespacedConfigMap({
      name: POLICY_CONFIGMAP,
      namespace: DEFAULT_EBB_NAMESPACE,
      body: policy('defaults:\n  target-concurrency: lots\n'),
    });
    await eventually('the webhook rejecting the invalid policy', () =>
      webhook()
        .output()
        .some((line) => line.includes(`${POLICY_CONFIGMAP} rejected`) && line.includes('target-concurrency'))
        ? true
        : undefined,
    );
    expect(await targetConcurrencyOfNewPods()).to.equal('7');

    await cluster.core.replaceNamespacedConfigMap({
      name: POLICY_CONFIGMAP,
      namespace: DEFAULT_EBB_NAMESPACE,
      body: policy('defaults:\n  target-concurrency: 12\n'),
    });
    await until('12');
  });
});
