// The webhook's failurePolicy is Ignore: with the webhook process gone, the API server still
// creates pods (uninjected), and once it is back, new pods are injected again.

import { expect } from 'chai';
import type { KubeConfig } from '@kubernetes/client-node';
import { INJECTION_LABEL } from '../../../src/core/annotations.ts';
import { useControlPlane } from '../../fixtures/control-plane.ts';
import { apiServerMetric } from '../../fixtures/metrics.ts';
import { useWebhook } from '../../fixtures/webhook.ts';
import { deployment } from '../../fixtures/deployments.ts';
import { expectInjected, expectUntouched, Workloads } from './workloads.ts';

const NAMESPACE = 'shop';
const WEBHOOK_TIMEOUT_SECONDS = 5;

/** The API server's own account of its calls to ebb's webhook, from its /metrics. */
async function webhookCalls(kubeConfig: KubeConfig): Promise<{ calls: number; seconds: number; failedOpen: number }> {
  const sum = (series: string) => apiServerMetric(kubeConfig, series, 'name="pods.webhook.ebb.dev"');
  return {
    calls: await sum('apiserver_admission_webhook_admission_duration_seconds_count'),
    seconds: await sum('apiserver_admission_webhook_admission_duration_seconds_sum'),
    failedOpen: await sum('apiserver_admission_webhook_fail_open_count'),
  };
}

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
    const before = await webhookCalls(controlPlane().kubeConfig);
    const [created] = await cluster.deploy(deployment(NAMESPACE, 'while-down'));
    expectUntouched(created!);
    // A refused connection is answered at once, not after the 5 s webhook timeout: by the API
    // server's clock around its calls to the webhook (each one failed open), not the test's around
    // the whole rollout.
    const after = await webhookCalls(controlPlane().kubeConfig);
    expect(after.calls - before.calls, 'calls to the webhook while it was down').to.be.at.least(1);
    expect(after.failedOpen - before.failedOpen, 'of which failed open').to.equal(after.calls - before.calls);
    expect(after.seconds - before.seconds, 'seconds they took, together').to.be.below(WEBHOOK_TIMEOUT_SECONDS);

    await webhook().startProcess();
    const [injected] = await cluster.deploy(deployment(NAMESPACE, 'after-restart'));
    expectInjected(injected!, `${NAMESPACE}/after-restart`);
  });
});
