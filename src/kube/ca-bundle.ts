// Keeps every webhook of a MutatingWebhookConfiguration trusting the current CA: a missing, stale
// or foreign caBundle is replaced. Only the webhooks that differ are patched, and the patch is
// guarded by resourceVersion so a concurrent edit is re-read, not overwritten.

import { AdmissionregistrationV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { isConflict } from './errors.ts';

export type CaBundleResult = 'unchanged' | 'updated';

export async function ensureWebhookCaBundle(kubeConfig: KubeConfig, configurationName: string, caPem: string): Promise<CaBundleResult> {
  const api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const wanted = Buffer.from(caPem).toString('base64');
  for (let attempt = 0; ; attempt++) {
    const configuration = await api.readMutatingWebhookConfiguration({ name: configurationName });
    const webhooks = configuration.webhooks ?? [];
    // client-node reads caBundle (a []byte) back as base64 text.
    const stale = webhooks.flatMap((webhook, index) => (String(webhook.clientConfig.caBundle ?? '') === wanted ? [] : [index]));
    if (stale.length === 0) return 'unchanged';
    const patch = [
      { op: 'test', path: '/metadata/resourceVersion', value: configuration.metadata?.resourceVersion },
      ...stale.map((index) => ({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: wanted })),
    ];
    try {
      await api.patchMutatingWebhookConfiguration({ name: configurationName, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
      return 'updated';
    } catch (error) {
      // A failed `test` is 422 (Invalid), a stale resourceVersion 409: either way, read again.
      const retryable = isConflict(error) || (error as { code?: number }).code === 422;
      if (!retryable || attempt >= 3) throw error;
    }
  }
}
