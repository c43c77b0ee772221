// The webhook program: informer caches, the admission app, HTTPS with certificate rotation.
// Flags win over environment variables, which win over defaults (WEBHOOK_ENVIRONMENT below):
//   --port / EBB_WEBHOOK_PORT (8443)            --host / EBB_WEBHOOK_HOST (0.0.0.0)
//   --tls-cert / EBB_TLS_CERT (/etc/ebb/tls/tls.crt)   --tls-key / EBB_TLS_KEY (/etc/ebb/tls/tls.key)
//   --namespace / POD_NAMESPACE (DEFAULT_EBB_NAMESPACE)    --max-body-bytes / EBB_MAX_BODY_BYTES (3 MiB)
// A bad value, from a flag or a variable, is reported under the variable's name.
// The cluster is reached with KubeConfig.loadFromDefault(): $KUBECONFIG, ~/.kube/config, or in-cluster.
import { KubeConfig } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import { DEFAULT_EBB_NAMESPACE } from '../src/core/opt-in.ts';
import { listenPort, readEnvironment, text, variable, wholeNumber } from '../src/program/environment.ts';
import { createLog, startupOrExit } from '../src/program/log.ts';
import { ClusterCache } from '../src/kube/cluster-cache.ts';
import { createWebhookApp, DEFAULT_MAX_BODY_BYTES } from './app.ts';
import { LimitRangeCache } from './limit-ranges.ts';
import { WebhookMetrics } from './metrics.ts';
import { startHttpsServer } from './server.ts';

/** Every variable the webhook reads; each has a flag of the same meaning (--port for EBB_WEBHOOK_PORT). */
const WEBHOOK_ENVIRONMENT = {
  port: variable('EBB_WEBHOOK_PORT', listenPort, 8443),
  host: variable('EBB_WEBHOOK_HOST', text, '0.0.0.0'),
  tlsCert: variable('EBB_TLS_CERT', text, '/etc/ebb/tls/tls.crt'),
  tlsKey: variable('EBB_TLS_KEY', text, '/etc/ebb/tls/tls.key'),
  namespace: variable('POD_NAMESPACE', text, DEFAULT_EBB_NAMESPACE),
  maxBodyBytes: variable('EBB_MAX_BODY_BYTES', wholeNumber(1024), DEFAULT_MAX_BODY_BYTES),
};
const FLAGS = { port: 'port', host: 'host', tlsCert: 'tls-cert', tlsKey: 'tls-key', namespace: 'namespace', maxBodyBytes: 'max-body-bytes' } as const;

/** The environment with each given flag in place of its variable. */
function withFlags(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { values } = parseArgs({ options: Object.fromEntries(Object.values(FLAGS).map((flag) => [flag, { type: 'string' }])) });
  const merged = { ...env };
  for (const [key, flag] of Object.entries(FLAGS)) {
    const given = values[flag];
    if (typeof given === 'string') merged[WEBHOOK_ENVIRONMENT[key as keyof typeof FLAGS].name] = given;
  }
  return merged;
}

const log = createLog('webhook');
const config = startupOrExit(log, () => readEnvironment(WEBHOOK_ENVIRONMENT, withFlags(process.env)));

const metrics = new WebhookMetrics();
const kubeConfig = new KubeConfig();
kubeConfig.loadFromDefault();
const cache = new ClusterCache(kubeConfig, {
  namespace: config.namespace,
  onPolicyErrors: (errors) => metrics.configErrors.inc({ source: 'policy' }, errors.length),
  onPolicyLoaded: () => log('info', 'policy loaded'),
  log: (msg) => log('warn', msg),
  resourceQuotas: true,
});

const limitRanges = new LimitRangeCache(kubeConfig, { log: (msg) => log('warn', msg) });

// The server serves a placeholder until the certificate files exist (server.ts): not ready until then.
let hasCertificate = () => false;
const app = createWebhookApp({
  view: cache,
  containerBounds: (namespace) => limitRanges.containerBounds(namespace),
  resourceQuotas: (namespace) => cache.resourceQuotas(namespace),
  ebbNamespace: config.namespace,
  metrics,
  maxBodyBytes: config.maxBodyBytes,
  log,
  hasCertificate: () => hasCertificate(),
});
const server = await startHttpsServer(app, {
  host: config.host,
  port: config.port,
  tls: { certFile: config.tlsCert, keyFile: config.tlsKey },
  onReload: () => log('info', 'serving certificate reloaded'),
  onError: (error) => log('warn', `serving certificate not reloaded (kept the previous one): ${String(error)}`),
});
hasCertificate = () => server.hasCertificate();
log('info', 'webhook listening', { url: `https://${config.host}:${server.port}`, port: server.port });
if (!server.hasCertificate()) log('warn', `no serving certificate yet: waiting for ${config.tlsCert} and ${config.tlsKey} (not ready until then)`);
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
