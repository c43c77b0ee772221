// The webhook's HTTP routes. Kept apart from main.ts so a test can serve it on 127.0.0.1:0 with a
// fake ClusterView. The admission body is read by hand (no body-parser): a size cap checked before
// and while reading (readCappedBody), one Buffer.concat and one JSON.parse.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { answerJson, answerText, readCappedBody, serveOperations } from '../src/http/answer.ts';
import { createLog, type Log } from '../src/program/log.ts';
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
  /** Default: the program's log on stdout. */
  log?: Log;
  /** The namespace's LimitRange bounds, which what ebb adds must fit. */
  containerBounds?: ContainerBoundsOf;
  /** The namespace's ResourceQuotas, which the pod as ebb leaves it must pass. */
  resourceQuotas?: ResourceQuotasOf;
  /** False while the server has no serving certificate of its own (server.ts): not ready. Default: it has. */
  hasCertificate?: () => boolean;
}

/** A client error: the caller sent something that is not an AdmissionReview we can read. */
function answerProblem(res: ServerResponse, status: number, message: string): void {
  // After a 413 the rest of the body is not read: the connection cannot carry another request.
  answerJson(res, status, { error: message }, status === 413 ? { Connection: 'close' } : {});
}

export function createWebhookApp(options: WebhookAppOptions): RequestListener {
  const { view, ebbNamespace } = options;
  const metrics = options.metrics ?? new WebhookMetrics();
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? createLog('webhook');

  async function mutate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readCappedBody(req, maxBodyBytes);
    if (raw === undefined) return answerProblem(res, 413, `the body exceeds ${maxBodyBytes} bytes`);
    const started = process.hrtime.bigint();
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      return answerProblem(res, 400, `the body is not valid JSON: ${(error as Error).message}`);
    }
    const request = readAdmissionReview(body);
    if (!request.ok) return answerProblem(res, 400, request.error);
    const admission = admit(request.value, view, ebbNamespace, { containerBounds: options.containerBounds, resourceQuotas: options.resourceQuotas });
    answerJson(res, 200, admission.review);

    // A dry-run admission creates nothing: it is timed, but counts no injection or config error.
    const dryRun = request.value.dryRun === true;
    metrics.admissionDuration.observe({ outcome: admission.outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    if (admission.outcome === 'error') {
      metrics.errors.inc();
      log('error', 'admission failed; allowed unchanged', { uid: request.value.uid, error: String(admission.error) });
    }
    if (admission.outcome === 'injected' && !dryRun) metrics.injections.inc();
    const configErrors = admission.mutation?.errors ?? [];
    if (configErrors.length > 0 && !dryRun) metrics.configErrors.inc({ source: 'annotation' }, configErrors.length);
  }

  // The admission path is the one route the API server waits on for every pod created in the
  // cluster: it is matched first, with no router in front (Express, the benchmark measured, cost
  // ~40 % of the CPU of a review: about 50 µs of ~125 µs).
  const ready = () => {
    if (options.hasCertificate?.() === false) return 'no serving certificate yet (its files do not exist)';
    return view.ready() || 'caches not synced or policy not loaded yet';
  };
  return (req, res) => {
    const url = req.url ?? '/';
    // The API server calls `/mutate?timeout=5s`.
    if (url !== '/mutate' && !url.startsWith('/mutate?')) {
      if (!serveOperations(req, res, { metrics: metrics.registry, ready })) answerText(res, 404, `${req.method} ${url.split('?')[0]} not found`);
      return;
    }
    if (req.method !== 'POST') return answerText(res, 405, `${req.method} is not allowed here`, { Allow: 'POST' });
    mutate(req, res).catch((error: unknown) => {
      log('error', 'request failed', { path: url, error: String(error) });
      if (!res.headersSent) answerText(res, 500, 'internal error');
      else res.destroy();
    });
  };
}
