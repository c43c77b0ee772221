// The controller's HTTP API: `POST /wake` for the agents (authenticated), and the probes and
// metrics for the kubelet and Prometheus.

import http from 'node:http';
import { createHttpServer } from '../http/server.ts';
import { AGENT_IDENTITY, authorizeRequest, type TokenVerifier } from '../protocol/auth.ts';
import { isWakeRequest, WAKE_PATH, type WakeRequest, type WakeResponse } from '../protocol/wake.ts';
import type { Registry } from 'prom-client';
import type { ControllerMetrics } from './metrics.ts';

const MAX_BODY_BYTES = 16 * 1024;

export interface ControllerServerOptions {
  verifier: TokenVerifier;
  /** The identity allowed to ask for wake-ups (the agents' service account). */
  agentIdentity?: string;
  wake(request: WakeRequest): Promise<WakeResponse & { status?: number }>;
  ready(): boolean;
  metrics: ControllerMetrics;
}

export function createControllerServer(options: ControllerServerOptions): http.Server {
  return createHttpServer({}, (req, res) => {
    const send = (status: number, body: string, contentType = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return send(200, 'ok\n');
    if (path === '/readyz') return options.ready() ? send(200, 'ready\n') : send(503, 'caches not synced yet\n');
    if (path === '/metrics') {
      const names = new URL(req.url ?? '/', 'http://controller').searchParams.getAll('name');
      void renderMetrics(options.metrics.registry, names).then((text) => send(200, text, options.metrics.registry.contentType));
      return;
    }
    if (path !== WAKE_PATH) return send(404, 'not found\n');
    if (req.method !== 'POST') return send(405, `only POST on ${WAKE_PATH}\n`);
    void handleWake(req, options).then(
      ({ status, body }) => {
        // The rest of an over-cap body is not read: the connection cannot carry another request.
        if (status === 413) res.shouldKeepAlive = false;
        send(status, JSON.stringify(body), 'application/json');
      },
      (error: unknown) => send(500, JSON.stringify({ accepted: false, reason: `internal error: ${error instanceof Error ? error.message : String(error)}` }), 'application/json'),
    );
  });
}

async function handleWake(req: http.IncomingMessage, options: ControllerServerOptions): Promise<{ status: number; body: WakeResponse }> {
  const auth = await authorizeRequest(req, options.verifier, options.agentIdentity ?? AGENT_IDENTITY);
  if (auth.status !== 200) {
    options.metrics.wakeRequests.inc({ outcome: `refused-${auth.status}` });
    req.resume();
    return { status: auth.status, body: { accepted: false, reason: auth.message } };
  }
  const text = await readBody(req);
  let parsed: unknown;
  try {
    parsed = text === undefined ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!isWakeRequest(parsed)) {
    options.metrics.wakeRequests.inc({ outcome: 'invalid' });
    return {
      status: text === undefined ? 413 : 400,
      body: { accepted: false, reason: text === undefined ? `body over ${MAX_BODY_BYTES} bytes` : 'expected {"workload":"namespace/name","node":"…","held":N}' },
    };
  }
  const { status, ...answer } = await options.wake(parsed);
  options.metrics.wakeRequests.inc({ outcome: answer.accepted ? 'accepted' : 'declined' });
  return { status: status ?? (answer.accepted ? 200 : 409), body: answer };
}

/** The body as text, or undefined when it is over the cap (declared, or once more has arrived). */
function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      // Destroying the request here would cut the connection before the 413 is sent: the rest
      // is read and dropped instead, until the answer closes the connection.
      req.off('data', onData);
      req.resume();
      resolve(undefined);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Every metric, or only those named by `?name=` (repeatable). The recommendation gauges hold a
 * dozen series per workload: at 1,000 workloads a whole rendering costs tens of milliseconds of
 * the event loop, which a watcher polling one gauge every second need not pay.
 */
async function renderMetrics(registry: Registry, names: readonly string[]): Promise<string> {
  if (names.length === 0) return registry.metrics();
  const known = names.filter((name) => registry.getSingleMetric(name) !== undefined);
  return (await Promise.all(known.map((name) => registry.getSingleMetricAsString(name)))).map((text) => `${text}\n`).join('');
}
