// The webhook's /mutate (and the rest of its routes) under generated malformed input, over real
// HTTPS on 127.0.0.1, in process with a fake ClusterView; and bytes that are not TLS on its port.

import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebhookCertificates, writeWebhookCertificates } from '../../../certs/webhook-certificates.ts';
import { createWebhookApp } from '../../../webhook/app.ts';
import { startHttpsServer, type RunningServer } from '../../../webhook/server.ts';
import { deploymentPod } from '../../unit/core/pods.ts';
import { FakeClusterView } from '../../unit/webhook/fake-cluster-view.ts';
import { BOUND_MS, expectServing, fuzzSurface, type Surface } from './fuzz.ts';
import { exchange } from './raw-http.ts';

/** Small, so oversized bodies cost little; the cap's code is the same at the default 3 MiB. */
const BODY_CAP = 64 * 1024;

describe('fuzz: webhook /mutate', function () {
  // Hundreds of cases, some of which end only at a server's own timeout: minutes on a machine with both cores busy.
  this.timeout(180_000);
  let dir: string;
  let server: RunningServer;
  let surface: Surface;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebb-fuzz-webhook-'));
    const certificates = createWebhookCertificates({ service: 'ebb-webhook', namespace: 'ebb-system', validDays: 1 });
    const paths = await writeWebhookCertificates(dir, certificates);
    const view = new FakeClusterView();
    view.namespaces.set('shop', { name: 'shop', labels: { 'ebb.dev/injection': 'enabled' } });
    const app = createWebhookApp({ view, ebbNamespace: 'ebb-system', maxBodyBytes: BODY_CAP, log: () => undefined });
    server = await startHttpsServer(app, { host: '127.0.0.1', port: 0, tls: { certFile: paths.cert, keyFile: paths.key } });
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'uid-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'shop', object: deploymentPod() },
    };
    surface = {
      name: 'webhook',
      endpoint: { port: server.port, tls: { ca: certificates.ca.certPem, servername: 'ebb-webhook.ebb-system.svc' } },
      valid: {
        method: 'POST',
        target: '/mutate?timeout=10s',
        version: 'HTTP/1.1',
        headers: [
          ['Host', 'ebb-webhook.ebb-system.svc:443'],
          ['Content-Type', 'application/json'],
          ['Accept', 'application/json'],
        ],
        body: Buffer.from(JSON.stringify(review)),
        framing: 'length',
        lineEnd: '\r\n',
      },
      bodyCap: BODY_CAP,
    };
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 200 malformed requests within the bound, never 5xx, each 4xx with a message, and keeps serving', async () => {
    await fuzzSurface(surface, 200);
  });

  it('closes connections that do not speak TLS, and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 4_096 }), async (bytes) => {
        const outcome = await exchange({ port: surface.endpoint.port }, { writes: [Buffer.from(bytes)], halfCloseAfterMs: 200, answers: 1, boundMs: BOUND_MS });
        expect(outcome.ended).not.to.equal('open');
        await expectServing(surface);
      }),
      { numRuns: 25 },
    );
  });
});
