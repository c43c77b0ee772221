// The HTTP server of a forwarding hop (the interceptor's proxy port, each activator port), guarded
// against clients that are slow or that flood: they meet any client on the network, and every
// request they accept is counted as load and costs memory until it is answered.
//
// - The request line and headers must arrive within `headersMs` of a connection's first byte, or
//   of the connection itself when it sends nothing (408 with a message, then closed). Node's
//   default here was none at all: `requestTimeout: 0` also turns the header timeout off.
// - The rest of a request (its body) has no time limit of ours: it streams to the app, whose own
//   timeouts apply (and at the activator, the hold deadline answers a request still held).
//   `requestTimeout` counts only until a request has arrived, never the wait for its answer, so
//   it could not cut a held request; it is off because an upload's length is the app's business.
// - An idle keep-alive connection closes `keepAliveMs` after its last answer (Node adds 1 s).
// - One connection may have at most MAX_PIPELINED requests waiting for their answers. Node reads
//   and dispatches every request a client pipelines, all at once: 1 MiB of pipelined GETs held
//   38,836 requests in flight and 200 MB of heap in the interceptor (its memory limit is 128 Mi),
//   and each counted as load. Beyond the limit a request is answered 429 at once, uncounted; those
//   answers queue behind the pending ones, and Node stops reading the connection once they fill
//   its buffer, so a flood costs what one read (64 KiB) of requests does: 16 in flight and 7 MB of
//   heap, for 1 MiB as for 8 MiB (test/integration/fuzz/interceptor.fuzz.test.ts).
// - A request may carry at most MAX_HEADER_FIELDS header fields (Envoy's default, the limit of the
//   sidecar proxies ebb's interceptor stands beside), else 431. Node hands a server only the first
//   2,000 and drops the rest without a word: a hop would forward a request with fields missing,
//   and a Node app behind it, seeing 2,000 at most, would miss the X-Forwarded-For added last.

import type http from 'node:http';
import { createHttpServer, unansweredOn } from '../../src/http/server.ts';

export interface ClientTimeouts {
  /** The request line and headers must arrive within this (from the connection, or its request's first byte). */
  headersMs: number;
  /** An idle keep-alive connection is closed this long after its last answer. */
  keepAliveMs: number;
}

/** No browser pipelines; a client that does sends a few requests ahead, not more than this. */
export const MAX_PIPELINED = 16;

export const MAX_HEADER_FIELDS = 100;

/** The answer to a request the hop will not forward. */
function refuse(res: http.ServerResponse, status: 429 | 431, message: string): void {
  const body = `${message}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
}

/** How often Node looks for connections past the header timeout: a slow client is cut within headersMs + this. */
export const checkingIntervalMs = (timeouts: ClientTimeouts): number => Math.max(10, Math.min(1_000, Math.floor(timeouts.headersMs / 4)));

export function createHopServer(timeouts: ClientTimeouts, onRequest: http.RequestListener): http.Server {
  const server = createHttpServer(
    {
      headersTimeout: timeouts.headersMs,
      requestTimeout: 0,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionsCheckingInterval: checkingIntervalMs(timeouts),
    },
    (req, res) => {
      if (req.rawHeaders.length / 2 > MAX_HEADER_FIELDS) return refuse(res, 431, `request header fields too many: at most ${MAX_HEADER_FIELDS}`);
      if (unansweredOn(req.socket) > MAX_PIPELINED)
        return refuse(res, 429, `too many pipelined requests: at most ${MAX_PIPELINED} may wait for their answers on one connection`);
      onRequest(req, res);
    },
  );
  // One more than allowed, to see that there were more.
  server.maxHeadersCount = MAX_HEADER_FIELDS + 1;
  return server;
}
