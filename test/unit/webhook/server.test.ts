// The webhook over real HTTPS on 127.0.0.1 (port 0), with certificates from certs/.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import jsonpatch from 'jsonpatch';
import { createWebhookCertificates, writeWebhookCertificates, type WebhookCertificates } from '../../../certs/webhook-certificates.ts';
import { issueCertificate } from '../../../certs/pki.ts';
import { createWebhookApp, type WebhookAppOptions } from '../../../webhook/app.ts';
import { WebhookMetrics } from '../../../webhook/metrics.ts';
import { startHttpsServer, type RunningServer } from '../../../webhook/server.ts';
import { deploymentPod } from '../core/pods.ts';
import { FakeClusterView } from './fake-cluster-view.ts';
import { eventually, until } from '../../fixtures/wait.ts';

interface Reply {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
}

function call(server: RunningServer, ca: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, ca, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function review(options: { dryRun?: boolean; operation?: string; uid?: string } = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? 'uid-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: options.operation ?? 'CREATE',
      namespace: 'shop',
      dryRun: options.dryRun ?? false,
      object: deploymentPod(),
    },
  };
}

/** The serial number of the certificate a fresh TLS connection is served. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'ebb-webhook.ebb-system.svc' }, () => {
      resolve(socket.getPeerX509Certificate()!.serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('webhook server', function () {
  this.timeout(10_000);
  let dir: string;
  let certificates: WebhookCertificates;
  let paths: { caCert: string; cert: string; key: string };
  let view: FakeClusterView;
  let metrics: WebhookMetrics;
  let server: RunningServer;
  let reloadErrors: unknown[];
  const ca = () => certificates.ca.certPem;

  async function start(options: Partial<WebhookAppOptions> = {}) {
    metrics = new WebhookMetrics();
    reloadErrors = [];
    const app = createWebhookApp({ view, ebbNamespace: 'ebb-system', metrics, log: () => undefined, ...options });
    server = await startHttpsServer(app, {
      host: '127.0.0.1',
      port: 0,
      tls: { certFile: paths.cert, keyFile: paths.key },
      intervalMs: 50,
      onError: (error) => reloadErrors.push(error),
    });
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebb-webhook-test-'));
    certificates = createWebhookCertificates({ service: 'ebb-webhook', namespace: 'ebb-system', validDays: 1 });
    paths = await writeWebhookCertificates(dir, certificates);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    view = new FakeClusterView();
    view.namespaces.set('shop', { name: 'shop', labels: { 'ebb.dev/injection': 'enabled' } });
    await start();
  });
  afterEach(() => server.close());

  it('injects an opted-in pod: AdmissionReview v1 with a base64 JSON Patch', async () => {
    const reply = await call(server, ca(), 'POST', '/mutate', JSON.stringify(review()));
    expect(reply.status).to.equal(200);
    const { apiVersion, kind, response } = reply.json() as {
      apiVersion: string;
      kind: string;
      response: { uid: string; allowed: boolean; patchType: string; patch: string };
    };
    expect({ apiVersion, kind, uid: response.uid, allowed: response.allowed, patchType: response.patchType }).to.deep.equal({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      uid: 'uid-1',
      allowed: true,
      patchType: 'JSONPatch',
    });
    const patched = jsonpatch.apply_patch(deploymentPod(), JSON.parse(Buffer.from(response.patch, 'base64').toString()) as unknown[]);
    expect(patched.spec!.initContainers![0]!.name).to.equal('ebb-interceptor');
    expect(await metrics.injections.get()).to.deep.include({ values: [{ value: 1, labels: {} }] });
  });

  it('derives the Deployment from the ReplicaSet in the cache, and reads its annotations', async () => {
    view.replicaSets.set('shop/web-7d9f8', {
      name: 'web-7d9f8',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'storefront', uid: 'd', controller: true }],
    });
    view.deployments.set('shop/storefront', { name: 'storefront', annotations: { 'ebb.dev/max-replicas': '3' } });
    const { response } = (await call(server, ca(), 'POST', '/mutate', JSON.stringify(review()))).json() as { response: { patch: string } };
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString()) as { path: string; value: Record<string, string> }[];
    const annotations = patch.find((operation) => operation.path === '/metadata/annotations')!.value;
    expect(JSON.parse(annotations['ebb.dev/injected']!)).to.deep.include({ workload: 'shop/storefront' });
    expect(annotations['ebb.dev/max-replicas']).to.equal('3');
  });

  it('allows a pod it does not inject without a patch', async () => {
    view.namespaces.set('shop', { name: 'shop' });
    const { response } = (await call(server, ca(), 'POST', '/mutate', JSON.stringify(review()))).json() as { response: Record<string, unknown> };
    expect(response).to.deep.equal({ uid: 'uid-1', allowed: true });
  });

  it('allows an UPDATE unchanged', async () => {
    const { response } = (await call(server, ca(), 'POST', '/mutate', JSON.stringify(review({ operation: 'UPDATE' })))).json() as {
      response: Record<string, unknown>;
    };
    expect(response).to.deep.equal({ uid: 'uid-1', allowed: true });
  });

  const badRequests: [string, string, string][] = [
    ['malformed JSON', '{"apiVersion": ', 'the body is not valid JSON'],
    ['a JSON array', '[]', 'the body is not a JSON object'],
    ['another kind', JSON.stringify({ apiVersion: 'v1', kind: 'Pod' }), 'expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got "v1" and "Pod"'],
    ['no request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), 'has no request object'],
    ['no uid', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: { kind: 'Pod' } } }), 'request has no uid'],
  ];
  for (const [what, body, message] of badRequests) {
    it(`answers ${what} with 400 and what is wrong`, async () => {
      const reply = await call(server, ca(), 'POST', '/mutate', body);
      expect(reply.status).to.equal(400);
      expect(reply.json().error).to.include(message);
    });
  }

  it('answers a body over the cap with 413, declared or streamed', async () => {
    await server.close();
    await start({ maxBodyBytes: 2048 });
    const big = JSON.stringify({ ...review(), padding: 'x'.repeat(4096) });
    const declared = await call(server, ca(), 'POST', '/mutate', big);
    expect(declared.status).to.equal(413);
    expect(declared.json().error).to.equal('the body exceeds 2048 bytes');
    const streamed = await call(server, ca(), 'POST', '/mutate', big, { 'transfer-encoding': 'chunked' });
    expect(streamed.status).to.equal(413);
    expect((await call(server, ca(), 'POST', '/mutate', JSON.stringify(review()))).status, 'a body under the cap still passes').to.equal(200);
  });

  it('fails open: an internal error allows the pod unchanged and is counted', async () => {
    view.policy = () => {
      throw new Error('cache exploded');
    };
    const reply = await call(server, ca(), 'POST', '/mutate', JSON.stringify(review()));
    expect(reply.status).to.equal(200);
    expect((reply.json() as { response: unknown }).response).to.deep.equal({ uid: 'uid-1', allowed: true });
    expect((await metrics.errors.get()).values[0]!.value).to.equal(1);
    const durations = await metrics.admissionDuration.get();
    expect(durations.values.find((value) => value.metricName?.endsWith('_count') && value.labels.outcome === 'error')?.value).to.equal(1);
  });

  it('answers a dry run with the same patch, without counting an injection or config errors', async () => {
    const pod = (dryRun: boolean) => ({
      ...review({ dryRun }),
      request: { ...review({ dryRun }).request, object: deploymentPod({ annotations: { 'ebb.dev/min-replicas': 'x' } }) },
    });
    const dry = (await call(server, ca(), 'POST', '/mutate', JSON.stringify(pod(true)))).json() as { response: { patch: string } };
    expect((await metrics.injections.get()).values[0]?.value ?? 0).to.equal(0);
    expect((await metrics.configErrors.get()).values).to.deep.equal([]);
    const real = (await call(server, ca(), 'POST', '/mutate', JSON.stringify(pod(false)))).json() as { response: { patch: string } };
    expect(dry.response.patch).to.equal(real.response.patch);
    expect((await metrics.injections.get()).values[0]!.value).to.equal(1);
    expect((await metrics.configErrors.get()).values[0]).to.deep.include({ value: 1, labels: { source: 'annotation' } });
  });

  it('serves /healthz always and /readyz only once the view is ready', async () => {
    view.isReady = false;
    expect((await call(server, ca(), 'GET', '/healthz')).status).to.equal(200);
    expect((await call(server, ca(), 'GET', '/readyz')).status).to.equal(503);
    view.isReady = true;
    expect((await call(server, ca(), 'GET', '/readyz')).status).to.equal(200);
  });

  it('serves its metrics in the Prometheus text format', async () => {
    await call(server, ca(), 'POST', '/mutate', JSON.stringify(review()));
    const reply = await call(server, ca(), 'GET', '/metrics');
    expect(reply.status).to.equal(200);
    expect(reply.body).to.include('ebb_webhook_admission_duration_seconds_bucket{le="0.002",outcome="injected"}');
    expect(reply.body).to.include('ebb_webhook_injections_total 1');
    expect(reply.body).to.include('# TYPE ebb_webhook_errors_total counter');
    expect(reply.body).to.include('# TYPE ebb_config_errors_total counter');
  });

  it('serves a renewed certificate without a restart, and keeps the old one while the pair does not match', async () => {
    const before = await servedSerial(server.port, ca());
    expect(before).to.equal(new X509Certificate(certificates.serving.certPem).serialNumber);

    // Same CA, new serving pair; first only the key (a half-finished rotation): still the old certificate.
    const next = issueCertificate(certificates.ca, { commonName: 'ebb-webhook.ebb-system.svc', ipAddresses: ['127.0.0.1'], usage: 'server' });
    await writeFile(paths.key, next.keyPem);
    // Wait for the reload that sees the mismatched pair (it polls every 50 ms), then ask what is served.
    await until('the mismatched pair tried and refused', () => reloadErrors.length > 0, 10_000, 50);
    expect(await servedSerial(server.port, ca())).to.equal(before);

    await writeFile(paths.cert, next.certPem);
    const expected = new X509Certificate(next.certPem).serialNumber;
    await eventually(
      `the renewed certificate ${expected} served`,
      async () => ((await servedSerial(server.port, ca())) === expected ? true : undefined),
      10_000,
      50,
    );
    // Restore the original pair for the other tests.
    await writeFile(paths.cert, certificates.serving.certPem);
    await writeFile(paths.key, certificates.serving.keyPem);
  });
});
