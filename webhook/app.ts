// The webhook's HTTP routes. Kept apart from main.ts so a test can serve it on 127.0.0.1:0 with a
// fake ClusterView. The admission body is read by hand (no body-parser): a size cap checked before
// and while reading, one Buffer.concat and one JSON.parse.
import express from 'express';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ClusterView } from '../src/core/cluster-view.ts';
import { admit, readAdmissionReview, type ContainerBoundsOf, type ResourceQuotasOf } from './admission.ts';
import { WebhookMetrics } from './metrics.ts';

export const DEFAULT_MAX_BODY_BYTES = 3 * 2 ** 20;

export interface WebhookAppOptions {
  view: ClusterView;
  /** Where ebb runs; its pods are never injected. */
  ebbNamespace: string;
  metrics?: WebhookMetrics;
  maxBodyBytes?: number;
  /** One structured log entry; default: a JSON line on stderr. */
  log?: (entry: Record<string, unknown>) => void;
  /** The namespace's LimitRange bounds, which what ebb adds must fit. */
  containerBounds?: ContainerBoundsOf;
  /** The namespace's ResourceQuotas, which the pod as ebb leaves it must pass. */
  resourceQuotas?: ResourceQuotasOf;
}

class BodyTooLarge extends Error {}

/** The raw body, or BodyTooLarge as soon as it is known to exceed the cap. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, body: unknown) => send(res, status, 'application/json', JSON.stringify(body));
const sendText = (res: ServerResponse, status: number, text: string) => send(res, status, 'text/plain; charset=utf-8', text);

/** A client error: the caller sent something that is not an AdmissionReview we can read. */
function sendProblem(res: ServerResponse, status: number, message: string): void {
  // After a 413 the rest of the body is not read: the connection cannot carry another request.
  send(res, status, 'application/json', JSON.stringify({ error: message }), status === 413 ? { Connection: 'close' } : {});
}

export function createWebhookApp(options: WebhookAppOptions): RequestListener {
  const { view, ebbNamespace } = options;
  const metrics = options.metrics ?? new WebhookMetrics();
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? ((entry) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`));

  async function mutate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw: Buffer;
    try {
      raw = await readBody(req, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) return sendProblem(res, 413, `the body exceeds ${maxBodyBytes} bytes`);
      throw error;
    }
    const started = process.hrtime.bigint();
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      return sendProblem(res, 400, `the body is not valid JSON: ${(error as Error).message}`);
    }
    const request = readAdmissionReview(body);
    if (!request.ok) return sendProblem(res, 400, request.error);
    const admission = admit(request.value, view, ebbNamespace, { containerBounds: options.containerBounds, resourceQuotas: options.resourceQuotas });
    sendJson(res, 200, admission.review);

    // A dry-run admission creates nothing: it is timed, but counts no injection or config error.
    const dryRun = request.value.dryRun === true;
    metrics.admissionDuration.observe({ outcome: admission.outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    if (admission.outcome === 'error') {
      metrics.errors.inc();
      log({ level: 'error', msg: 'admission failed; allowed unchanged', uid: request.value.uid, error: String(admission.error) });
    }
    if (admission.outcome === 'injected' && !dryRun) metrics.injections.inc();
    const configErrors = admission.mutation?.errors ?? [];
    if (configErrors.length > 0 && !dryRun) metrics.configErrors.inc({ source: 'annotation' }, configErrors.length);
  }

  // Express serves the probes and the metrics. The admission path goes around its router: the
  // benchmark measured Express at ~40 % of the CPU of a review (about 50 µs of ~125 µs), and
  // /mutate is the one route the API server waits on for every pod created in the cluster.
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => sendText(res, 200, 'ok'));
  app.get('/readyz', (_req, res) => (view.ready() ? sendText(res, 200, 'ready') : sendText(res, 503, 'caches not synced or policy not loaded yet')));
  app.get('/metrics', async (_req, res) => send(res, 200, metrics.registry.contentType, await metrics.registry.metrics()));
  app.use((req, res) => sendText(res, 404, `${req.method} ${req.path} not found`));

  return (req, res) => {
    const url = req.url ?? '/';
    // The API server calls `/mutate?timeout=5s`.
    if (url !== '/mutate' && !url.startsWith('/mutate?')) return void app(req, res);
    if (req.method !== 'POST') return send(res, 405, 'text/plain; charset=utf-8', `${req.method} is not allowed here`, { Allow: 'POST' });
    mutate(req, res).catch((error: unknown) => {
      log({ level: 'error', msg: 'request failed', path: url, error: String(error) });
      if (!res.headersSent) sendText(res, 500, 'internal error');
      else res.destroy();
    });
  };
}
