// The controller's HTTP API: `POST /wake` for the agents (authenticated), and the probes and
// metrics for the kubelet and Prometheus.

import http from 'node:http';
import { answerJson, answerText, readCappedBody, requestTarget, serveOperations } from '../http/answer.ts';
import { createHttpServer } from '../http/server.ts';
import { authorizeRequest, type TokenVerifier } from '../protocol/auth.ts';
import { isWakeRequest, WAKE_PATH, type WakeRequest, type WakeResponse } from '../protocol/wake.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { WakeOutcome, WakeRefusal } from './scaler.ts';

const MAX_BODY_BYTES = 16 * 1024;

export interface ControllerServerOptions {
  verifier: TokenVerifier;
  /** The identity allowed to ask for wake-ups: the agents' service account in ebb's namespace. */
  agentIdentity: string;
  wake(request: WakeRequest): Promise<ControllerWakeOutcome>;
  ready(): boolean;
  metrics: ControllerMetrics;
}

/** A wake-up's outcome: the Scaler's, or a workload that is not an opted-in Deployment. */
export type ControllerWakeOutcome = WakeOutcome | { accepted: false; refusal: 'unknown-workload'; reason: string };

/**
 * The answer's status for each refusal: a standby answers 503, which the agents retry (the next
 * try may reach the leader); a workload ebb must not scale, 409; one it does not know, 404.
 */
const REFUSAL_STATUS: Record<WakeRefusal | 'unknown-workload', number> = { 'not-leader': 503, paused: 409, 'hpa-present': 409, 'unknown-workload': 404 };

export function createControllerServer(options: ControllerServerOptions): http.Server {
  return createHttpServer({}, (req, res) => {
    if (serveOperations(req, res, { metrics: options.metrics.registry, ready: () => options.ready() || 'caches not synced yet' })) return;
    if (requestTarget(req).path !== WAKE_PATH) return answerText(res, 404, 'not found');
    if (req.method !== 'POST') return answerText(res, 405, `only POST on ${WAKE_PATH}`);
    void handleWake(req, options).then(
      // The rest of an over-cap body is not read: the connection cannot carry another request.
      ({ status, body }) => answerJson(res, status, body, status === 413 ? { Connection: 'close' } : {}),
      (error: unknown) => answerJson(res, 500, { accepted: false, reason: `internal error: ${error instanceof Error ? error.message : String(error)}` }),
    );
  });
}

async function handleWake(req: http.IncomingMessage, options: ControllerServerOptions): Promise<{ status: number; body: WakeResponse }> {
  const auth = await authorizeRequest(req, options.verifier, options.agentIdentity);
  if (auth.status !== 200) {
    options.metrics.wakeRequests.inc({ outcome: `refused-${auth.status}` });
    req.resume();
    return { status: auth.status, body: { accepted: false, reason: auth.message } };
  }
  const body = await readCappedBody(req, MAX_BODY_BYTES);
  let parsed: unknown;
  try {
    parsed = body === undefined ? undefined : JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!isWakeRequest(parsed)) {
    options.metrics.wakeRequests.inc({ outcome: 'invalid' });
    return {
      status: body === undefined ? 413 : 400,
      body: {
        accepted: false,
        reason: body === undefined ? `body over ${MAX_BODY_BYTES} bytes` : 'expected {"workload":"namespace/name","node":"…","held":N}',
      },
    };
  }
  const outcome = await options.wake(parsed);
  options.metrics.wakeRequests.inc({ outcome: outcome.accepted ? 'accepted' : 'declined' });
  return outcome.accepted
    ? { status: 200, body: { accepted: true } }
    : { status: REFUSAL_STATUS[outcome.refusal], body: { accepted: false, reason: outcome.reason } };
}
