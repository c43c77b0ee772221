// The data path's HTTP/2 forwarder: each inbound h2 stream goes on as an h2 stream to its upstream
// (the interceptor's app, a ready pod's interceptor for the activator), over one shared session per
// upstream, made again when it closes or goes away. Headers as headers.ts rewrites them, bodies
// streamed both ways with the streams' own flow control, trailers relayed (gRPC's status is in
// them), and a reset of either stream passed to the other. An upstream that does not speak h2c is
// answered 502 with a line that says so; one that refuses the connection, 503 with Retry-After.

import http2 from 'node:http2';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { forwardH2RequestHeaders, forwardH2ResponseHeaders } from './headers.ts';
import { describeUpstreamFailure, type UpstreamFailure } from './upstream-errors.ts';

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM, NGHTTP2_INTERNAL_ERROR } = http2.constants;

export interface Http2Address {
  host: string;
  port: number;
}

export interface Http2Upstream extends Http2Address {
  /** The caller's sessions (one per upstream). */
  sessions: Http2Sessions;
}

/** A session that has had the peer's SETTINGS speaks h2; one that failed before them does not, or is not there. */
const spokeHttp2 = new WeakSet<http2.ClientHttp2Session>();

/** The shared sessions, one per upstream address. */
export class Http2Sessions {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();

  session(to: Http2Address): http2.ClientHttp2Session {
    const key = `${to.host}:${to.port}`;
    const present = this.sessions.get(key);
    if (present && !present.closed && !present.destroyed) return present;
    // No server push: a pushed stream would have no client to go to.
    const session = http2.connect(`http://${key}`, {
      createConnection: () => net.connect({ port: to.port, host: to.host, noDelay: true }),
      settings: { enablePush: false },
    });
    const forget = () => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    };
    session.once('remoteSettings', () => spokeHttp2.add(session));
    session.once('goaway', forget);
    session.once('close', forget);
    // Every stream on it fails with the session's error, and is answered there.
    session.on('error', forget);
    // An idle shared session must not keep a draining process alive.
    session.unref();
    this.sessions.set(key, session);
    return session;
  }

  close(): void {
    for (const session of this.sessions.values()) session.destroy();
    this.sessions.clear();
  }
}

export interface StreamBody {
  /** What arrived before forwarding (the activator holds a request's first bytes). */
  buffered?: readonly Buffer[];
  /** The rest of the body; undefined when the request has ended. */
  rest: Readable | undefined;
}

export interface Http2ForwardOptions {
  /** Retry-After of a 503. */
  retryAfterSeconds?: number;
  /**
   * Where the upstream's trailers go; default: sent on the stream when its body ends. A stream
   * with Node's compatibility response (the activator's) must hand them to it (addTrailers): the
   * response sends the stream's trailers itself.
   */
  trailers?: (fields: http2.OutgoingHttpHeaders) => void;
}

/** Why an upstream failed before it answered. */
function upstreamFailure(address: string, session: http2.ClientHttp2Session, error: NodeJS.ErrnoException | undefined): UpstreamFailure {
  if (error?.code === 'ECONNREFUSED') return describeUpstreamFailure(address, error);
  if (!spokeHttp2.has(session)) return { status: 502, message: `upstream ${address} does not speak HTTP/2 (h2c): an HTTP/2 request needs an h2c upstream` };
  return error ? describeUpstreamFailure(address, error) : { status: 502, message: `upstream ${address} reset the stream` };
}

/** A one-line text answer on a stream, as answerText gives over HTTP/1.1; `headers` in lower case. */
export function answerStreamText(stream: http2.ServerHttp2Stream, status: number, line: string, headers: http2.OutgoingHttpHeaders = {}): void {
  if (stream.closed || stream.destroyed || stream.headersSent) return;
  const body = `${line}\n`;
  stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  stream.end(body);
}

function answerFailure(stream: http2.ServerHttp2Stream, failure: UpstreamFailure, retryAfterSeconds: number): void {
  // A truncated answer must not look complete.
  if (stream.headersSent && !stream.closed) return void stream.close(NGHTTP2_INTERNAL_ERROR);
  answerStreamText(stream, failure.status, failure.message, failure.status === 503 ? { 'retry-after': String(retryAfterSeconds) } : {});
}

function sendBody(upstream: http2.ClientHttp2Stream, body: StreamBody): void {
  for (const chunk of body.buffered ?? []) upstream.write(chunk);
  if (body.rest) body.rest.pipe(upstream);
  else upstream.end();
}

/** Relays the upstream's answer to the client: headers, body, trailers; or its failure. */
function relayAnswer(
  stream: http2.ServerHttp2Stream,
  upstream: http2.ClientHttp2Stream,
  fail: (error?: NodeJS.ErrnoException) => void,
  relayTrailers: Http2ForwardOptions['trailers'],
): void {
  upstream.once('response', (headers, flags) => {
    if (stream.closed || stream.destroyed) return;
    // A trailers-only answer (gRPC's error without messages) ends with its headers.
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) return void stream.respond(forwardH2ResponseHeaders(headers), { endStream: true });
    stream.respond(forwardH2ResponseHeaders(headers), { waitForTrailers: true });
    upstream.pipe(stream);
  });
  if (relayTrailers) {
    upstream.once('trailers', (fields: http2.IncomingHttpHeaders) => relayTrailers(forwardH2ResponseHeaders(fields)));
  } else {
    let trailers: http2.OutgoingHttpHeaders = {};
    upstream.once('trailers', (fields: http2.IncomingHttpHeaders) => {
      trailers = forwardH2ResponseHeaders(fields);
    });
    stream.once('wantTrailers', () => stream.sendTrailers(trailers));
  }
  upstream.on('error', (error: NodeJS.ErrnoException) => fail(error));
  upstream.once('close', () => {
    if (!stream.headersSent) return fail();
    // The upstream reset its stream mid-answer: so is the client's.
    if (upstream.rstCode !== undefined && upstream.rstCode !== 0 && !stream.closed) stream.close(upstream.rstCode);
  });
}

export function forwardStream(
  stream: http2.ServerHttp2Stream,
  rawHeaders: readonly string[],
  body: StreamBody,
  to: Http2Upstream,
  options: Http2ForwardOptions = {},
): void {
  const address = `${to.host}:${to.port}`;
  const session = to.sessions.session(to);
  let failed = false;
  const fail = (error?: NodeJS.ErrnoException) => {
    if (failed) return;
    failed = true;
    answerFailure(stream, upstreamFailure(address, session, error), options.retryAfterSeconds ?? 1);
  };
  stream.on('error', () => undefined);
  const headers = forwardH2RequestHeaders(rawHeaders, { clientAddress: stream.session?.socket?.remoteAddress, proto: 'http' });
  const endStream = (body.buffered?.length ?? 0) === 0 && body.rest === undefined;
  let upstream: http2.ClientHttp2Stream;
  try {
    upstream = session.request(headers, { endStream });
  } catch (error) {
    // The session closed or went away between the lookup and the request.
    return fail(error as NodeJS.ErrnoException);
  }
  relayAnswer(stream, upstream, fail, options.trailers);
  // The client reset its stream, or went away: so does the upstream's.
  stream.once('close', () => {
    if (!upstream.closed) upstream.close(stream.rstCode !== undefined && stream.rstCode !== 0 ? stream.rstCode : NGHTTP2_CANCEL);
  });
  if (!endStream) sendBody(upstream, body);
}
