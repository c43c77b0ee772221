import { expect } from 'chai';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { ensureWebhookCaBundle } from '../../../src/kube/ca-bundle.ts';
import { createCertificateAuthority } from '../../../certs/pki.ts';
import { useControlPlane } from '../../fixtures/control-plane.ts';

describe('webhook caBundle keeper on the real API server', function () {
  this.timeout(60_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  const oldCa = createCertificateAuthority('old-ca').certPem;
  const currentCa = createCertificateAuthority('current-ca').certPem;

  const webhook = (name: string, caBundle?: string) => ({
    name,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Ignore',
    clientConfig: { url: 'https://127.0.0.1:1/mutate', ...(caBundle ? { caBundle } : {}) },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
  });

  it('replaces a stale bundle and fills a missing one, then leaves them be', async () => {
    const api = controlPlane().kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    await api.createMutatingWebhookConfiguration({
      body: { metadata: { name: 'ebb' }, webhooks: [webhook('a.ebb.dev', Buffer.from(oldCa).toString('base64')), webhook('b.ebb.dev')] },
    });
    expect(await ensureWebhookCaBundle(controlPlane().kubeConfig, 'ebb', currentCa)).to.equal('updated');
    const after = await api.readMutatingWebhookConfiguration({ name: 'ebb' });
    const bundles = (after.webhooks ?? []).map((w) => Buffer.from(String(w.clientConfig.caBundle), 'base64').toString());
    expect(bundles).to.deep.equal([currentCa, currentCa]);
    expect(await ensureWebhookCaBundle(controlPlane().kubeConfig, 'ebb', currentCa)).to.equal('unchanged');
    const again = await api.readMutatingWebhookConfiguration({ name: 'ebb' });
    expect(again.metadata?.resourceVersion).to.equal(after.metadata?.resourceVersion);
  });
});
