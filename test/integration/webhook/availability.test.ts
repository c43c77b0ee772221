// The webhook's failurePolicy is Ignore: with the webhook process gone, the API server still
// creates pods (uninjected), and once it is back, new pods are injected again.

import { expect } from 'chai';
import { INJECTION_LABEL } from '../../../src/core/annotations.ts';
import { useControlPlane } from '../../fixtures/control-plane.ts';
import { useWebhook } from '../../fixtures/webhook.ts';
import { deployment, expectInjected, expectUntouched, Workloads } from './workloads.ts';

const NAMESPACE = 'shop';

describe('webhook: availability', function () {
  this.timeout(60_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  const webhook = useWebhook(controlPlane);
  let cluster: Workloads;

  before(async () => {
    cluster = new Workloads(controlPlane().kubeConfig);
    await cluster.namespace(NAMESPACE, { [INJECTION_LABEL]: 'enabled' });
  });

  it('lets pods be created while the webhook is down (fail open), and injects again once it is back', async () => {
    await webhook().stopProcess();
    const started = Date.now();
    const [created] = await cluster.deploy(deployment(NAMESPACE, 'while-down'));
    expectUntouched(created!);
    // A refused connection is answered at once, not after the 5 s webhook timeout.
    expect(Date.now() - started).to.be.below(5_000);

    await webhook().startProcess();
    const [injected] = await cluster.deploy(deployment(NAMESPACE, 'after-restart'));
    expectInjected(injected!, `${NAMESPACE}/after-restart`);
  });
});
