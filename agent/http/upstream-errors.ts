// What a forwarding hop answers when its upstream fails before answering: connection refused
// means the app is not listening yet (starting, restarting), which is temporary → 503 with
// Retry-After; anything else → 502 with a body that says what failed.

import type { ServerResponse } from 'node:http';
import { answerText } from '../../src/http/answer.ts';

export interface UpstreamFailure {
  status: 502 | 503;
  message: string;
}

export function describeUpstreamFailure(address: string, error: NodeJS.ErrnoException): UpstreamFailure {
  switch (error.code) {
    case 'ECONNREFUSED':
      return { status: 503, message: `upstream ${address} refused the connection (the app is not listening yet)` };
    case 'ECONNRESET':
      return { status: 502, message: `upstream ${address} reset the connection` };
    case 'ETIMEDOUT':
      return { status: 502, message: `upstream ${address} timed out` };
    case 'EPIPE':
      return { status: 502, message: `upstream ${address} closed the connection while the request was being sent` };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { status: 502, message: `upstream ${address} is unreachable` };
    default:
      return { status: 502, message: `upstream ${address} failed: ${error.code ?? error.message}` };
  }
}

/**
 * Answers the client with the failure, or, if the response had already started, cuts the
 * connection: a truncated body must not look complete.
 */
export function answerUpstreamFailure(res: ServerResponse, failure: UpstreamFailure, retryAfterSeconds = 1): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  answerText(res, failure.status, failure.message, failure.status === 503 ? { 'Retry-After': retryAfterSeconds } : {});
}
