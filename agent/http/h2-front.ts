// HTTP/2 without TLS (h2c, "prior knowledge") on a hop's HTTP/1.1 port: one port serves both, as a
// Service port is one port whatever its clients speak. The first bytes of each connection decide:
// the client connection preface (the 24 octets `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` and the header of
// the SETTINGS frame that must follow them, RFC 9113 §3.4) goes to a node:http2 server; anything
// else, at its first byte that differs, to the hop's HTTP/1.1 server, unchanged. The bytes read
// are put back (socket.unshift) before the chosen server gets the socket.
//
// The hop server's guards, as they apply to HTTP/2:
// - the head timeout: the preface must arrive within `headersMs` of the connection, else 408 and
//   close, as an HTTP/1.1 head must (an HTTP/2 client sends it at once); a stream's own headers
//   arrive in one HEADERS frame, which nghttp2 bounds in size;
// - pipelining (16 waiting per connection): concurrent streams per connection, at most
//   MAX_CONCURRENT_STREAMS (SETTINGS_MAX_CONCURRENT_STREAMS; nghttp2 refuses the streams beyond it);
// - 100 header fields at most: Node's maxHeaderListPairs, the pseudo-header fields aside (a stream
//   over it is reset with ENHANCE_YOUR_CALM);
// - the idle keep-alive timeout: a session with no open stream for `keepAliveMs` gets GOAWAY. A
//   session with a stream open is never idle, however quiet: a gRPC stream may send nothing for
//   minutes, and is counted in flight all along.

import type http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { MAX_HEADER_FIELDS, type ClientTimeouts } from './hop-server.ts';

/** What nginx (128) and most servers offer; RFC 9113 §6.5.2 recommends no fewer than 100. */
const MAX_CONCURRENT_STREAMS = 100;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** The preface, then a frame header: 3 octets of length, then the type. */
const PREFACE_AND_FRAME_HEADER = PREFACE.length + 9;
const SETTINGS_FRAME = 0x4;

/** The pseudo-header fields a request carries besides its MAX_HEADER_FIELDS fields. */
const PSEUDO_HEADER_FIELDS = 4;

type Protocol = 'h2' | 'http/1.1' | undefined;

/** Which protocol the connection's first bytes are; undefined while they could still be either. */
function sniffProtocol(seen: Buffer): Protocol {
  const magic = Math.min(seen.length, PREFACE.length);
  if (!seen.subarray(0, magic).equals(PREFACE.subarray(0, magic))) return 'http/1.1';
  if (seen.length < PREFACE_AND_FRAME_HEADER) return undefined;
  return seen[PREFACE.length + 3] === SETTINGS_FRAME ? 'h2' : 'http/1.1';
}

type UpgradeListener = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface Http2Front {
  /** The HTTP/2 server: listen to its 'stream' (or 'request', for Node's compatibility objects). */
  server: http2.Http2Server;
  /** The hop server's 'upgrade' listener: an upgrade to h2c is declined (declineH2cUpgrade), any other goes to `onUpgrade`. */
  upgrades(onUpgrade: UpgradeListener): UpgradeListener;
  /** Sends GOAWAY on every session, now and as each new one starts: open streams may finish. */
  goAway(): void;
  /** Closes every session at once. */
  destroy(): void;
}

interface Sniffing {
  http1: (socket: Socket) => void;
  http2: (socket: Socket) => void;
  /** The connection sent nothing decisive within the head timeout, or ended inside the preface. */
  refuse: (socket: Socket, error: Error & { code: string; reason?: string }) => void;
  timeoutMs: number;
}

function sniff(socket: Socket, to: Sniffing): void {
  let seen: Buffer = Buffer.alloc(0);
  const stop = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
  };
  const timer = setTimeout(() => {
    stop();
    to.refuse(socket, Object.assign(new Error('the HTTP/2 preface or HTTP/1.1 head did not arrive in time'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }));
  }, to.timeoutMs);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const protocol = sniffProtocol(seen);
    if (protocol === undefined) return;
    stop();
    socket.pause();
    socket.unshift(seen);
    if (protocol === 'h2') return to.http2(socket);
    to.http1(socket);
    // The HTTP/1.1 server reads the socket from its handle; what was put back flows once resumed.
    socket.resume();
  };
  const onEnd = () => {
    stop();
    if (seen.length === 0) return void socket.end();
    to.refuse(
      socket,
      Object.assign(new Error('the connection ended inside an HTTP/2 connection preface'), {
        code: 'HPE_INVALID_EOF_STATE',
        reason: 'the connection ended inside an HTTP/2 connection preface',
      }),
    );
  };
  // The chosen server handles the socket's errors from then on.
  const onError = () => socket.destroy();
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.once('close', stop);
}

/** Whether an upgrade request offers h2c and nothing else (RFC 9113 §3.2 was RFC 7540's Upgrade: h2c). */
function upgradesToH2cOnly(req: http.IncomingMessage): boolean {
  const offered = (req.headers.upgrade ?? '').split(',').map((token) => token.trim().toLowerCase());
  return offered.length > 0 && offered.every((token) => token === 'h2c');
}

/** The request's head as HTTP/1.1 bytes, without Upgrade, HTTP2-Settings and their tokens in Connection. */
function headWithoutUpgrade(req: http.IncomingMessage): Buffer {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? '';
    let value = req.rawHeaders[i + 1] ?? '';
    const lower = name.toLowerCase();
    if (lower === 'upgrade' || lower === 'http2-settings') continue;
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && !/^(upgrade|http2-settings)$/i.test(token))
        .join(', ');
      if (value === '') continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  // Node's parser decodes header bytes as latin1: so they are the same bytes again.
  return Buffer.from(`${head}\r\n`, 'latin1');
}

/**
 * Declines an h2c upgrade, as RFC 9110 §7.8 lets a server: the request is answered over HTTP/1.1
 * and the connection stays HTTP/1.1. Node's HTTP/1.1 server has already handed the socket over as
 * an upgrade (Node 20 decides by server, not by request); the request's head, less the upgrade,
 * goes back in front of what followed it, and the HTTP/1.1 server reads the connection again, so
 * the request is counted and answered as any other, body and keep-alive included.
 */
function declineH2cUpgrade(serveHttp1: (socket: Socket) => void, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const plain = socket as Socket;
  plain.pause();
  if (head.length > 0) plain.unshift(head);
  plain.unshift(headWithoutUpgrade(req));
  serveHttp1(plain);
  plain.resume();
}

/** Closes a session once it has had no open stream for `idleMs`. */
function closeWhenIdle(session: http2.ServerHttp2Session, idleMs: number): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined = setTimeout(() => session.close(), idleMs);
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    open += 1;
    clearTimeout(timer);
    timer = undefined;
    stream.once('close', () => {
      open -= 1;
      if (open === 0 && !session.closed) timer = setTimeout(() => session.close(), idleMs);
    });
  });
  session.once('close', () => clearTimeout(timer));
}

/**
 * Takes over `server`'s connections (it keeps listening, closing and counting them): each is
 * sniffed, then served by `server` as before or by the returned HTTP/2 server.
 */
export function acceptHttp2(server: http.Server, timeouts: ClientTimeouts): Http2Front {
  const h2 = http2.createServer({
    maxHeaderListPairs: MAX_HEADER_FIELDS + PSEUDO_HEADER_FIELDS,
    settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  let goingAway = false;
  h2.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', () => session.destroy());
    closeWhenIdle(session, timeouts.keepAliveMs);
    if (goingAway) session.close();
  });

  // Node's HTTP/1.1 server is its own 'connection' listener; it now gets the HTTP/1.1 connections only.
  const serveHttp1 = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const http1 = (socket: Socket) => {
    for (const listener of serveHttp1) listener.call(server, socket);
  };
  const sniffing: Sniffing = {
    http1,
    http2: (socket) => h2.emit('connection', socket),
    // The HTTP/1.1 server's own answer to a head that did not arrive (408) or could not be read (400).
    refuse: (socket, error) => {
      server.emit('clientError', error, socket);
    },
    timeoutMs: timeouts.headersMs,
  };
  server.on('connection', (socket: Socket) => sniff(socket, sniffing));

  return {
    server: h2,
    upgrades: (onUpgrade) => (req, socket, head) => (upgradesToH2cOnly(req) ? declineH2cUpgrade(http1, req, socket, head) : onUpgrade(req, socket, head)),
    goAway: () => {
      goingAway = true;
      for (const session of sessions) session.close();
    },
    destroy: () => {
      for (const session of sessions) session.destroy();
    },
  };
}
