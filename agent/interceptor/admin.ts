// The interceptor's admin port: /stats for the agent, /metrics for Prometheus, /ready and
// /healthz for the kubelet. It reveals only this pod's own request counts, like /metrics does on
// any pod, so it is not authenticated; the sidecar has no credentials to check tokens with.

import http from 'node:http';
import { answerJson, answerText, requestTarget, serveOperations } from '../../src/http/answer.ts';
import { createHttpServer } from '../../src/http/server.ts';
import { INTERCEPTOR_READY_PATH } from '../../src/protocol/sidecar.ts';
import { INTERCEPTOR_STATS_PATH } from '../../src/protocol/stats.ts';
import type { InterceptorActivity } from './activity.ts';
import type { AppReadiness } from './app-readiness.ts';

export function createAdminServer(activity: InterceptorActivity, appReadiness: AppReadiness, isDraining: () => boolean): http.Server {
  return createHttpServer({}, (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return answerText(res, 405, 'only GET');
    if (serveOperations(req, res, { metrics: activity.registry })) return;
    switch (requestTarget(req).path) {
      case INTERCEPTOR_STATS_PATH:
        return answerJson(res, 200, activity.stats(appReadiness.current(), isDraining()));
      case INTERCEPTOR_READY_PATH:
        appReadiness.check().then(
          (ready) =>
            isDraining()
              ? answerText(res, 503, 'draining')
              : ready
                ? answerText(res, 200, 'ready')
                : answerText(res, 503, 'the app does not accept connections yet'),
          () => answerText(res, 503, 'readiness check failed'),
        );
        return;
      default:
        return answerText(res, 404, 'not found');
    }
  });
}
