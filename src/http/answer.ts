// What every ebb server writes and reads on its own routes: an answer with its length, a body read
// up to a cap, and the routes every program serves alike (/healthz, /readyz, /metrics).

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export function answer(res: ServerResponse, status: number, contentType: string, body: string, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** One line of text. */
export function answerText(res: ServerResponse, status: number, line: string, headers: OutgoingHttpHeaders = {}): void {
  answer(res, status, 'text/plain; charset=utf-8', `${line}\n`, headers);
}

export function answerJson(res: ServerResponse, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  answer(res, status, 'application/json', JSON.stringify(value), headers);
}

/**
 * The body, or undefined when it is over `maxBytes` (declared, or once more has arrived). The rest
 * of an over-cap body is read and dropped, not destroyed: destroying the request would cut the
 * connection before the answer (a 413) is sent; the answer must close the connection instead.
 */
export function readCappedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length']) > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData);
      req.resume();
      resolve(undefined);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Every metric, or only those named by `?name=` (repeatable). The controller's recommendation gauges
 * hold a dozen series per workload: at 1,000 workloads a whole rendering costs tens of milliseconds
 * of the event loop, which a watcher polling one gauge every second need not pay.
 */
async function renderMetrics(registry: Registry, names: readonly string[]): Promise<string> {
  if (names.length === 0) return registry.metrics();
  const known = names.filter((name) => registry.getSingleMetric(name) !== undefined);
  return (await Promise.all(known.map((name) => registry.getSingleMetricAsString(name)))).map((text) => `${text}\n`).join('');
}

export interface OperationsRoutes {
  metrics: Registry;
  /** /readyz: true when ready, else why not; without it the program has no /readyz. */
  ready?: () => true | string;
}

/**
 * The request's path and query, split as sent. Never `new URL(req.url, base)`: a target such as
 * `//` or `//host/x` is no path relative to a base (it throws, or names another host), and any
 * client can send one.
 */
export function requestTarget(req: IncomingMessage): { path: string; query: URLSearchParams } {
  const [path, query = ''] = (req.url ?? '/').split('?', 2) as [string, string?];
  return { path, query: new URLSearchParams(query) };
}

/**
 * Answers /healthz, /readyz and /metrics (the kubelet's probes and Prometheus); false for any
 * other path, which the caller serves.
 */
export function serveOperations(req: IncomingMessage, res: ServerResponse, routes: OperationsRoutes): boolean {
  const { path, query } = requestTarget(req);
  switch (path) {
    case '/healthz':
      answerText(res, 200, 'ok');
      return true;
    case '/readyz': {
      if (!routes.ready) return false;
      const ready = routes.ready();
      if (ready === true) answerText(res, 200, 'ready');
      else answerText(res, 503, ready);
      return true;
    }
    case '/metrics':
      renderMetrics(routes.metrics, query.getAll('name')).then(
        (text) => answer(res, 200, routes.metrics.contentType, text),
        (error: unknown) => answerText(res, 500, `metrics failed: ${String(error)}`),
      );
      return true;
    default:
      return false;
  }
}
