// The agent's API for the controller: GET /activity, GET /activity/rises and GET /usage (only for
// the controller's identity); and, unauthenticated, /healthz for the kubelet and /metrics for
// Prometheus.

import http from 'node:http';
import type { Registry } from 'prom-client';
import { answerJson, answerText, requestTarget, serveOperations } from '../../src/http/answer.ts';
import { createHttpServer } from '../../src/http/server.ts';
import { ACTIVITY_PATH, ACTIVITY_RISES_PATH, activityAnswer, type ActivityReport } from '../../src/protocol/activity.ts';
import { authorizeRequest, type TokenVerifier } from '../../src/protocol/auth.ts';
import { USAGE_PATH, type UsageReport } from '../../src/protocol/usage.ts';
import type { RiseFeed } from './rise-feed.ts';

export interface ActivityServerOptions {
  activity: () => ActivityReport;
  usage: () => UsageReport;
  /** Told of each activity report the controller reads, and answers its questions about rises. */
  rises: RiseFeed;
  verifier: TokenVerifier;
  allowedIdentity: string;
  metrics: Registry;
}

export function createActivityServer(options: ActivityServerOptions): http.Server {
  return createHttpServer({}, (req, res) => {
    if (serveOperations(req, res, { metrics: options.metrics })) return;
    const { path, query } = requestTarget(req);
    const answerWith = answerer(path, query, options, res);
    if (!answerWith) return answerText(res, 404, 'not found');
    if (req.method !== 'GET') return answerText(res, 405, 'only GET');
    authorizeRequest(req, options.verifier, options.allowedIdentity).then(
      (decision) => (decision.status === 200 ? answerWith() : answerText(res, decision.status, decision.message)),
      (error: unknown) => answerText(res, 500, String(error)),
    );
  });
}

/** What answers an authorized request for `path`; undefined for a path the agent does not serve. */
function answerer(path: string, query: URLSearchParams, options: ActivityServerOptions, res: http.ServerResponse): (() => void) | undefined {
  switch (path) {
    case ACTIVITY_PATH:
      return () => {
        const report = options.activity();
        answerJson(res, 200, activityAnswer(report, query));
        options.rises.reportRead(report.workloads);
      };
    case ACTIVITY_RISES_PATH:
      return () => options.rises.serve(query, res);
    case USAGE_PATH:
      return () => answerJson(res, 200, options.usage());
    default:
      return undefined;
  }
}
