// What the install tests give ebb's programs run as local processes in place of their pods' own:
// a kubeconfig with their service account's token, and the kubelet's view of an HTTPS probe.

import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

/**
 * A kubeconfig file (in `dir`) for one of ebb's service accounts, with a token from the
 * TokenRequest API as its pod would have, against the cluster `admin` reaches.
 */
export async function accountKubeconfig(admin: KubeConfig, namespace: string, account: string, dir: string): Promise<string> {
  const issued = await admin
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccountToken({ name: account, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const cluster = admin.getCurrentCluster()!;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster],
    users: [{ name: account, token: issued.status?.token ?? '' }],
    contexts: [{ name: account, cluster: cluster.name, user: account }],
    currentContext: account,
  });
  const file = join(dir, `${account}.kubeconfig`);
  writeFileSync(file, config.exportConfig(), { mode: 0o600 });
  return file;
}

/** The status of GET https://127.0.0.1:port{path} without verifying the certificate, as the kubelet probes; 0 when nothing answers. */
export function probe(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}
