// The webhook program: informer caches, the admission app, HTTPS with certificate rotation.
// Flags win over environment variables, which win over defaults:
//   --port / EBB_WEBHOOK_PORT (8443)            --host / EBB_WEBHOOK_HOST (0.0.0.0)
//   --tls-cert / EBB_TLS_CERT (/etc/ebb/tls/tls.crt)   --tls-key / EBB_TLS_KEY (/etc/ebb/tls/tls.key)
//   --namespace / POD_NAMESPACE (ebb-system)    --max-body-bytes / EBB_MAX_BODY_BYTES (3 MiB)
// The cluster is reached with KubeConfig.loadFromDefault(): $KUBECONFIG, ~/.kube/config, or in-cluster.
import { KubeConfig } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import { DEFAULT_EBB_NAMESPACE } from '../src/core/opt-in.ts';
import { ClusterCache } from '../src/kube/cluster-cache.ts';
import { createWebhookApp, DEFAULT_MAX_BODY_BYTES } from './app.ts';
import { LimitRangeCache } from './limit-ranges.ts';
import { WebhookMetrics } from './metrics.ts';
import { startHttpsServer } from './server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.EBB_WEBHOOK_PORT ?? '8443' },
    host: { type: 'string', default: process.env.EBB_WEBHOOK_HOST ?? '0.0.0.0' },
    'tls-cert': { type: 'string', default: process.env.EBB_TLS_CERT ?? '/etc/ebb/tls/tls.crt' },
    'tls-key': { type: 'string', default: process.env.EBB_TLS_KEY ?? '/etc/ebb/tls/tls.key' },
    namespace: { type: 'string', default: process.env.POD_NAMESPACE ?? DEFAULT_EBB_NAMESPACE },
    'max-body-bytes': { type: 'string', default: process.env.EBB_MAX_BODY_BYTES ?? String(DEFAULT_MAX_BODY_BYTES) },
  },
});

const log = (level: string, msg: string) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg })}\n`);

function wholeNumber(flag: string, text: string, minimum: number): number {
  const value = Number(text);
  if (Number.isInteger(value) && value >= minimum) return value;
  log('error', `--${flag} ${JSON.stringify(text)} is not accepted: expected a whole number ≥ ${minimum}`);
  process.exit(2);
}

const metrics = new WebhookMetrics();
const kubeConfig = new KubeConfig();
kubeConfig.loadFromDefault();
const cache = new ClusterCache(kubeConfig, {
  namespace: values.namespace,
  onPolicyErrors: (errors) => metrics.configErrors.inc({ source: 'policy' }, errors.length),
  onPolicyLoaded: () => log('info', 'policy loaded'),
  log: (msg) => log('warn', msg),
  resourceQuotas: true,
});

const limitRanges = new LimitRangeCache(kubeConfig, { log: (msg) => log('warn', msg) });

const app = createWebhookApp({
  view: cache,
  containerBounds: (namespace) => limitRanges.containerBounds(namespace),
  resourceQuotas: (namespace) => cache.resourceQuotas(namespace),
  ebbNamespace: values.namespace,
  metrics,
  maxBodyBytes: wholeNumber('max-body-bytes', values['max-body-bytes'], 1024),
});
const server = await startHttpsServer(app, {
  host: values.host,
  port: wholeNumber('port', values.port, 0),
  tls: { certFile: values['tls-cert'], keyFile: values['tls-key'] },
  onReload: () => log('info', 'serving certificate reloaded'),
  onError: (error) => log('warn', `serving certificate not reloaded (kept the previous one): ${String(error)}`),
});
log('info', `webhook listening on https://${values.host}:${server.port}`);
// Serving starts before the caches sync: /healthz answers at once, /readyz once they have
// (the LimitRanges first: /readyz follows the ClusterView).
await limitRanges.start();
await cache.start();
log('info', 'caches synced; ready');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log('info', `${signal}: stopping`);
    void Promise.all([server.close(), cache.stop(), limitRanges.stop()]).finally(() => process.exit(0));
  });
}
