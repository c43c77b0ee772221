// ebb's HTTP servers, every one made here, so that a client that sends what is not a request they
// serve learns what was wrong. Node answers a parse error, an oversized head, a header timeout
// and an HTTP/1.1 request without Host with a bare status and no body, and closes a CONNECT
// without a word; here each gets a status with a line that says why. Those answers (but Host's)
// are written straight to the socket, there being no response object, and so only when no earlier
// request of the connection is still being answered: written then, an answer would land before,
// or inside, that one. Such a connection is closed without an answer.
//
// And every response emits 'close' once its connection is gone. Node 20 does not for responses
// queued behind another on a pipelining connection (fixed in nodejs/node#62534, after 20): the
// interceptor counts a request out of flight on 'close', so each such response kept a workload
// counted busy for good.

import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { rawAnswer } from './raw-response.ts';

/** Per connection, the responses not closed yet. */
const unanswered = new WeakMap<Duplex, Set<http.ServerResponse>>();

/** How many requests of the connection are still waiting for their response to finish (this one included). */
export function unansweredOn(socket: Duplex): number {
  return unanswered.get(socket)?.size ?? 0;
}

function responsesOf(socket: Duplex): Set<http.ServerResponse> {
  let responses = unanswered.get(socket);
  if (!responses) {
    const open = new Set<http.ServerResponse>();
    // Node has closed the connection's current response by the next tick; what is left was queued.
    socket.once('close', () =>
      process.nextTick(() => {
        for (const res of open) {
          res.destroy();
          res.emit('close');
        }
      }),
    );
    unanswered.set(socket, (responses = open));
  }
  return responses;
}

/** The status and message for what the parser or the server's timers refused. */
function describeClientError(server: http.Server, error: Error & { code?: string; reason?: string }): [number, string] {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, `request header fields too large: the request line and headers may take at most ${http.maxHeaderSize} bytes`];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'chunk extensions too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT': {
      const whole = server.requestTimeout > 0 ? `, the whole request within ${server.requestTimeout} ms` : '';
      return [408, `request timeout: the request line and headers must arrive within ${server.headersTimeout} ms${whole}`];
    }
    default:
      return [400, `bad request: ${error.reason ?? error.message}`];
  }
}

function answerOnSocket(socket: Duplex, status: number, message: string): void {
  socket.end(rawAnswer(status, message), () => socket.destroy());
}

function sendText(res: http.ServerResponse, status: number, message: string): void {
  const body = `${message}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
}

/** Counts the request in until its response closes, and answers a missing Host itself. */
function guarded(listener: http.RequestListener): http.RequestListener {
  return (req, res) => {
    const responses = responsesOf(req.socket);
    responses.add(res);
    res.once('close', () => responses.delete(res));
    // RFC 9112 §3.2: a server must answer an HTTP/1.1 request without Host with 400.
    if (req.httpVersion === '1.1' && req.headers.host === undefined) return sendText(res, 400, 'bad request: an HTTP/1.1 request needs a Host header');
    // An upgrade request reaches here when the server has no upgrade to offer, and is answered as
    // a plain one; but Node's parser stops reading the connection's bytes at it, so requests
    // pipelined behind it would wait unanswered until the connection times out. Closing after
    // the answer tells their client at once.
    if (req.headers.upgrade !== undefined && /\bupgrade\b/i.test(req.headers.connection ?? '')) res.shouldKeepAlive = false;
    listener(req, res);
  };
}

function answerClientErrors<S extends http.Server>(server: S): S {
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable || unansweredOn(socket) > 0) return void socket.destroy();
    answerOnSocket(socket, ...describeClientError(server, error));
  });
  // Without a listener Node closes a CONNECT's connection without an answer.
  server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    if (unansweredOn(socket) > 0) return void socket.destroy();
    answerOnSocket(socket, 405, `${req.method} is not supported: this is not a forward proxy`);
  });
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    sendText(res, 417, `expectation ${JSON.stringify(req.headers.expect)} is not supported; only 100-continue is`);
  });
  return server;
}

/** An HTTP server that answers clients' protocol errors with a status and a message. */
export function createHttpServer(options: http.ServerOptions, listener: http.RequestListener): http.Server {
  return answerClientErrors(http.createServer({ ...options, requireHostHeader: false }, guarded(listener)));
}

/** The HTTPS one. */
export function createHttpsServer(options: https.ServerOptions, listener: http.RequestListener): https.Server {
  return answerClientErrors(https.createServer({ ...options, requireHostHeader: false }, guarded(listener)));
}
