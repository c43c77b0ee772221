// The webhook started before its certificate files exist (the Secret is created by the
// controller after the webhook's pods start): alive on a placeholder, not ready, then serving the
// files' pair and ready as soon as they appear, with no restart.

import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createWebhookCertificates, writeWebhookCertificates } from '../../../certs/webhook-certificates.ts';
import { createWebhookApp } from '../../../webhook/app.ts';
import { startHttpsServer, type RunningServer } from '../../../webhook/server.ts';
import { eventually } from '../../fixtures/wait.ts';
import { FakeClusterView } from './fake-cluster-view.ts';

/** The status of GET path, not verifying the certificate (as the kubelet's probes do not). */
function probe(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Whether a client that trusts only `ca` completes a handshake (as the API server must). */
function trusted(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'ebb-webhook.ebb-system.svc' }, () => {
      resolve(true);
      socket.end();
    });
    socket.on('error', () => resolve(false));
  });
}

describe('webhook certificate files that appear later', function () {
  this.timeout(20_000);
  let dir: string;
  let server: RunningServer | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebb-webhook-late-'));
  });
  afterEach(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a placeholder, alive but not ready, until the pair exists; then the pair, ready', async () => {
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    const view = new FakeClusterView();
    const app = createWebhookApp({ view, ebbNamespace: 'ebb-system', log: () => undefined, hasCertificate: () => server?.hasCertificate() ?? false });
    server = await startHttpsServer(app, { host: '127.0.0.1', port: 0, tls: files, intervalMs: 50 });
    expect(server.hasCertificate()).to.equal(false);
    expect(await probe(server.port, '/healthz')).to.equal(200);
    expect(await probe(server.port, '/readyz')).to.equal(503);

    const certificates = createWebhookCertificates({ service: 'ebb-webhook', namespace: 'ebb-system', validDays: 1 });
    expect(await trusted(server.port, certificates.ca.certPem)).to.equal(false);
    await writeWebhookCertificates(dir, certificates);
    await eventually('the written pair served', async () => ((await trusted(server!.port, certificates.ca.certPem)) ? true : undefined), 5_000);
    expect(server.hasCertificate()).to.equal(true);
    expect(await probe(server.port, '/readyz')).to.equal(200);
  });
});
