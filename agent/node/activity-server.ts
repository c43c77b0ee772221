// The agent's API for the controller: GET /activity and GET /usage (only for the controller's
// identity); and, unauthenticated, /healthz for the kubelet and /metrics for Prometheus.

import http from 'node:http';
import type { Registry } from 'prom-client';
import { answerJson, answerText, requestTarget, serveOperations } from '../../src/http/answer.ts';
import { createHttpServer } from '../../src/http/server.ts';
import { ACTIVITY_PATH, activityTotals, asksForTotals, type ActivityReport } from '../../src/protocol/activity.ts';
import { authorizeRequest, type TokenVerifier } from '../../src/protocol/auth.ts';
import { USAGE_PATH, type UsageReport } from '../../src/protocol/usage.ts';

export function createActivityServer(
  activity: () => ActivityReport,
  verifier: TokenVerifier,
  allowedIdentity: string,
  metrics: Registry,
  usage: () => UsageReport,
): http.Server {
  return createHttpServer({}, (req, res) => {
    if (serveOperations(req, res, { metrics })) return;
    const { path, query } = requestTarget(req);
    const report = path === ACTIVITY_PATH ? () => (asksForTotals(query) ? activityTotals(activity()) : activity()) : path === USAGE_PATH ? usage : undefined;
    if (!report) return answerText(res, 404, 'not found');
    if (req.method !== 'GET') return answerText(res, 405, 'only GET');
    authorizeRequest(req, verifier, allowedIdentity).then(
      (decision) => (decision.status === 200 ? answerJson(res, 200, report()) : answerText(res, decision.status, decision.message)),
      (error: unknown) => answerText(res, 500, String(error)),
    );
  });
}
