// The one upstream forwarder of the data path: the interceptor forwards each request to its app,
// the activator each released request to a backend pod. The same request options (raw headers
// rewritten for the next hop, the caller's keep-alive pool, the Host kept as the client sent it),
// the answer streamed back, an upstream failure answered once (503 with Retry-After when nothing
// listens yet, else 502), and the upstream request cut when the client goes away.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { forwardRequestHeaders, forwardResponseHeaders } from './headers.ts';
import { answerUpstreamFailure, describeUpstreamFailure } from './upstream-errors.ts';

export interface Upstream {
  host: string;
  port: number;
  /** The caller's pool to this upstream. */
  agent: http.Agent;
}

export interface ForwardOptions {
  /** Writes the request's body to the upstream and ends it; default: streams it, if it has one. */
  sendBody?: (upstream: http.ClientRequest) => void;
  /** Header fields to add to the upstream's answer (names and values alternating). */
  responseHeaders?: () => readonly string[];
  /** Retry-After of a 503. */
  retryAfterSeconds?: number;
  /**
   * Send a request without a body once more when it failed on a pooled socket the upstream had
   * closed while idle: nothing reached the upstream (Node's documented pattern).
   */
  retryStaleSocket?: boolean;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function streamBody(req: IncomingMessage) {
  return (upstream: http.ClientRequest) => {
    if (hasBody(req)) req.pipe(upstream);
    else upstream.end();
  };
}

export function forward(req: IncomingMessage, res: ServerResponse, to: Upstream, options: ForwardOptions = {}, attempt = 0): void {
  const upstream = http.request({
    host: to.host,
    port: to.port,
    method: req.method,
    path: req.url,
    headers: forwardRequestHeaders(req.rawHeaders, { clientAddress: req.socket.remoteAddress, proto: 'http' }),
    agent: to.agent,
    setHost: false,
  });
  upstream.on('response', (upstreamRes) => {
    const headers = forwardResponseHeaders(upstreamRes.rawHeaders);
    if (options.responseHeaders) headers.push(...options.responseHeaders());
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, headers);
    upstreamRes.pipe(res);
    upstreamRes.on('error', () => res.destroy());
  });
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    if (res.closed) return;
    const stale = upstream.reusedSocket && error.code === 'ECONNRESET';
    if (options.retryStaleSocket && stale && attempt === 0 && IDEMPOTENT.has(req.method ?? '') && !hasBody(req))
      return forward(req, res, to, options, attempt + 1);
    answerUpstreamFailure(res, describeUpstreamFailure(`${to.host}:${to.port}`, error), options.retryAfterSeconds);
  });
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  (options.sendBody ?? streamBody(req))(upstream);
}
