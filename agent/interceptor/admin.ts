// The interceptor's admin port: /stats for the agent, /metrics for Prometheus, /ready and
// /healthz for the kubelet. It reveals only this pod's own request counts, like /metrics does on
// any pod, so it is not authenticated; the sidecar has no credentials to check tokens with.

import http from 'node:http';
import { createHttpServer } from '../../src/http/server.ts';
import { INTERCEPTOR_READY_PATH, INTERCEPTOR_STATS_PATH } from '../../src/protocol/stats.ts';
import type { InterceptorActivity } from './activity.ts';
import type { AppReadiness } from './app-readiness.ts';

export function createAdminServer(activity: InterceptorActivity, appReadiness: AppReadiness, isDraining: () => boolean): http.Server {
  return createHttpServer({}, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, contentType: string, body: string) => {
      res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'only GET\n');
    switch (path) {
      case INTERCEPTOR_STATS_PATH:
        return send(200, 'application/json', JSON.stringify(activity.stats(appReadiness.current(), isDraining())));
      case '/metrics':
        activity.registry.metrics().then(
          (text) => send(200, activity.registry.contentType, text),
          (error: unknown) => send(500, 'text/plain', `metrics failed: ${String(error)}\n`),
        );
        return;
      case INTERCEPTOR_READY_PATH:
        appReadiness.check().then(
          (ready) => (isDraining() ? send(503, 'text/plain', 'draining\n') : ready ? send(200, 'text/plain', 'ready\n') : send(503, 'text/plain', 'the app does not accept connections yet\n')),
          () => send(503, 'text/plain', 'readiness check failed\n'),
        );
        return;
      case '/healthz':
        return send(200, 'text/plain', 'ok\n');
      default:
        return send(404, 'text/plain', 'not found\n');
    }
  });
}
