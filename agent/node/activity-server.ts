// The agent's API for the controller: GET /activity and GET /usage (only for the controller's
// identity); and, unauthenticated, /healthz for the kubelet and /metrics for Prometheus.

import http from 'node:http';
import type { Registry } from 'prom-client';
import { createHttpServer } from '../../src/http/server.ts';
import { ACTIVITY_PATH, type ActivityReport } from '../../src/protocol/activity.ts';
import { authorizeRequest, type TokenVerifier } from '../../src/protocol/auth.ts';
import { USAGE_PATH, type UsageReport } from '../../src/protocol/usage.ts';

export function createActivityServer(report: () => ActivityReport, verifier: TokenVerifier, allowedIdentity: string, metrics: Registry, usage: () => UsageReport): http.Server {
  return createHttpServer({}, (req, res) => {
    const send = (status: number, contentType: string, body: string) => {
      res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return send(200, 'text/plain', 'ok\n');
    if (path === '/metrics') {
      metrics.metrics().then(
        (text) => send(200, metrics.contentType, text),
        (error: unknown) => send(500, 'text/plain', `metrics failed: ${String(error)}\n`),
      );
      return;
    }
    const answer = path === ACTIVITY_PATH ? report : path === USAGE_PATH ? usage : undefined;
    if (!answer) return send(404, 'text/plain', 'not found\n');
    if (req.method !== 'GET') return send(405, 'text/plain', 'only GET\n');
    authorizeRequest(req, verifier, allowedIdentity).then(
      (decision) => (decision.status === 200 ? send(200, 'application/json', JSON.stringify(answer())) : send(decision.status, 'text/plain', `${decision.message}\n`)),
      (error: unknown) => send(500, 'text/plain', `${String(error)}\n`),
    );
  });
}
