// The webhook's HTTP routes. Kept apart from main.ts so a test can serve it on 127.0.0.1:0 with a
// fake ClusterView. The admission body is read by hand (no body-parser): a size cap checked
// before and while reading, one Buffer.concat and one JSON.parse.
import express, { type Request, type Response } from 'express';
import type { ClusterView } from '../src/core/cluster-view.ts';
import { admit, readAdmissionReview } from './admission.ts';
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
}

class BodyTooLarge extends Error {}

/** The raw body, or BodyTooLarge as soon as it is known to exceed the cap. */
function readBody(req: Request, maxBytes: number): Promise<Buffer> {
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

function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).type('application/json').end(JSON.stringify(body));
}

/** A client error: the caller sent something that is not an AdmissionReview we can read. */
function sendProblem(res: Response, status: number, message: string): void {
  if (status === 413) res.setHeader('Connection', 'close');
  sendJson(res, status, { error: message });
}

export function createWebhookApp(options: WebhookAppOptions): express.Express {
  const { view, ebbNamespace } = options;
  const metrics = options.metrics ?? new WebhookMetrics();
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? ((entry) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`));

  const app = express();
  // No ETag hashing of every review and no X-Powered-By: nothing here is cacheable or public.
  app.set('etag', false);
  app.disable('x-powered-by');

  app.post('/mutate', async (req, res) => {
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
    const admission = admit(request.value, view, ebbNamespace);
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
  });

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });

  app.get('/readyz', (_req, res) => {
    if (view.ready()) res.type('text/plain').send('ready');
    else res.status(503).type('text/plain').send('caches not synced or policy not loaded yet');
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return app;
}
