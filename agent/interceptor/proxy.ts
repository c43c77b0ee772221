// The interceptor's data path: node:http in, node:http out over a keep-alive pool to the app on
// loopback, bodies streamed both ways, upgrades (WebSocket) spliced as raw sockets. Each counted
// request is counted out on its response's 'close', which Node emits exactly once whether the
// response finished or the client went away. An HTTP/2 stream goes to the app as an HTTP/2 stream
// over one session (h2-forward.ts) and is counted the same way, from its headers to its 'close':
// N streams open on one connection are N requests in flight.

import http, { type IncomingMessage } from 'node:http';
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { endUpgraded, rawAnswer, rawResponseHead } from '../../src/http/raw-response.ts';
import { forwardRequestHeaders, forwardResponseHeaders } from '../http/headers.ts';
import { forward } from '../http/forward.ts';
import { forwardStream, Http2Sessions } from '../http/h2-forward.ts';
import { describeUpstreamFailure } from '../http/upstream-errors.ts';
import type { InterceptorActivity } from './activity.ts';

export interface ProxyOptions {
  appHost: string;
  appPort: number;
  activity: InterceptorActivity;
  /** True once draining: every response then closes its connection. */
  isDraining: () => boolean;
}

export interface Proxy {
  onRequest: http.RequestListener;
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** An HTTP/2 server's 'stream' listener. */
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;
  close: () => void;
}

export function createProxy(options: ProxyOptions): Proxy {
  const { appHost, appPort, activity, isDraining } = options;
  const address = `${appHost}:${appPort}`;
  // One pool to one app: enough sockets for any realistic concurrency of one pod, reused
  // most-recently-used first so idle ones age out instead of all staying warm.
  const pool = new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 256, scheduling: 'lifo' });

  const app = { host: appHost, port: appPort, agent: pool };
  const forwardOptions = { retryStaleSocket: true, responseHeaders: () => (isDraining() ? ['Connection', 'close'] : []) };

  const onRequest: http.RequestListener = (req, res) => {
    // A pipelined request read after its client's connection closed: nobody is there for the
    // answer, and its forwarding headers could no longer name the client (found by the fuzz suite).
    if (req.socket.remoteAddress === undefined) return void res.destroy();
    if (activity.counts(req)) res.once('close', activity.begin());
    forward(req, res, app, forwardOptions);
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // An upgraded connection is activity for as long as it is open.
    if (activity.counts(req)) socket.once('close', activity.begin());
    socket.on('error', () => socket.destroy());
    const upstream = http.request({
      host: appHost,
      port: appPort,
      method: req.method,
      path: req.url,
      headers: forwardRequestHeaders(req.rawHeaders, { clientAddress: req.socket.remoteAddress, proto: 'http' }, true),
      agent: false,
      setHost: false,
    });
    upstream.on('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
      socket.write(rawResponseHead(upstreamRes.statusCode ?? 101, upstreamRes.statusMessage ?? '', upstreamRes.rawHeaders));
      if (upstreamHead.length > 0) socket.write(upstreamHead);
      if (head.length > 0) upstreamSocket.write(head);
      // A tunnel ends when either side ends: the HTTP servers' sockets allow half-open
      // connections, which would otherwise keep the tunnel (and the count) open forever.
      upstreamSocket.on('error', () => socket.destroy());
      upstreamSocket.on('close', () => socket.destroy());
      socket.on('close', () => upstreamSocket.destroy());
      const endBoth = () => {
        socket.end();
        upstreamSocket.end();
      };
      upstreamSocket.once('end', endBoth);
      socket.once('end', endBoth);
      upstreamSocket.pipe(socket, { end: false });
      socket.pipe(upstreamSocket, { end: false });
    });
    upstream.on('response', (upstreamRes) => {
      // The app declined the upgrade: relay its plain answer, delimited by closing the connection.
      socket.write(
        rawResponseHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage ?? '', [
          ...forwardResponseHeaders(upstreamRes.rawHeaders),
          'Connection',
          'close',
        ]),
      );
      upstreamRes.on('error', () => socket.destroy());
      upstreamRes.pipe(socket, { end: false });
      upstreamRes.on('end', () => endUpgraded(socket));
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      const failure = describeUpstreamFailure(address, error);
      endUpgraded(socket, rawAnswer(failure.status, failure.message, failure.status === 503 ? [['Retry-After', '1']] : []));
    });
    socket.once('close', () => upstream.destroy());
    upstream.end();
  };

  const sessions = new Http2Sessions();
  const h2App = { host: appHost, port: appPort, sessions };
  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]): void => {
    if (activity.counts({ headers, url: headers[':path'] })) stream.once('close', activity.begin());
    const ended = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    forwardStream(stream, rawHeaders, { rest: ended ? undefined : stream }, h2App);
  };

  return {
    onRequest,
    onUpgrade,
    onStream,
    close: () => {
      pool.destroy();
      sessions.close();
    },
  };
}
