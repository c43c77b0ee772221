// HTTP/2 through the interceptor, over real sockets on loopback (in-process): h2c with prior
// knowledge to an h2c app, counted per stream; an h2c Upgrade declined and served as HTTP/1.1;
// an app that does not speak h2c answered 502.

import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { RunningInterceptor } from '../../../agent/interceptor/server.ts';
import { closeServer } from '../../fixtures/processes.ts';
import { until } from '../../fixtures/wait.ts';
import { h2Connect, h2Request } from './h2-client.ts';
import { settle, startTestInterceptor } from './interceptor-support.ts';

describe('interceptor over HTTP/2 (h2c)', () => {
  let app: http2.Http2Server;
  let interceptor: RunningInterceptor;
  let client: http2.ClientHttp2Session;
  /** Streams the app holds (path /held): answered when the test says. */
  let held: http2.ServerHttp2Stream[];
  /** What the app saw of each request: its headers. */
  let seen: http2.IncomingHttpHeaders[];
  /** Streams of the app that closed, with their reset codes. */
  let appClosed: number[];

  beforeEach(async () => {
    held = [];
    seen = [];
    appClosed = [];
    app = http2.createServer();
    app.on('stream', (stream, headers) => {
      seen.push(headers);
      stream.on('error', () => undefined);
      stream.once('close', () => appClosed.push(stream.rstCode ?? 0));
      const path = headers[':path'];
      if (path === '/held') return void held.push(stream);
      if (path === '/trailers') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }));
        return void stream.end('payload');
      }
      if (path === '/trailers-only') return void stream.respond({ ':status': 200, 'grpc-status': '5', 'grpc-message': 'not found' }, { endStream: true });
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        stream.respond({ ':status': 200 });
        stream.end(`${headers[':method']} ${path} ${Buffer.concat(chunks).toString()}`);
      });
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    interceptor = await startTestInterceptor((app.address() as net.AddressInfo).port);
    client = await h2Connect(interceptor.listenPort);
  });

  afterEach(async () => {
    client.destroy();
    for (const stream of held) stream.destroy();
    await interceptor.drain();
    await new Promise((resolve) => app.close(resolve));
  });

  it('forwards a stream with its body both ways, keeps :authority and adds X-Forwarded-*', async () => {
    const answer = await h2Request(client, '/orders?page=2', { ':method': 'POST', 'x-forwarded-for': '10.0.0.9', te: 'trailers' }, 'tea for two');
    expect(answer.status).to.equal(200);
    expect(answer.body).to.equal('POST /orders?page=2 tea for two');
    const [headers] = seen;
    expect(headers?.[':authority']).to.equal(`127.0.0.1:${interceptor.listenPort}`);
    expect(headers?.['x-forwarded-for']).to.equal('10.0.0.9, 127.0.0.1');
    expect(headers?.['x-forwarded-proto']).to.equal('http');
    expect(headers?.['x-forwarded-host']).to.equal(`127.0.0.1:${interceptor.listenPort}`);
    expect(headers?.te, 'TE: trailers is the one TE an h2 request keeps').to.equal('trailers');
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(1);
  });

  it('relays trailers, and a trailers-only answer as one', async () => {
    const answer = await h2Request(client, '/trailers');
    expect(answer.body).to.equal('payload');
    expect(answer.trailers?.['grpc-status']).to.equal('0');
    expect(answer.trailers?.['grpc-message']).to.equal('fine');
    const only = await h2Request(client, '/trailers-only');
    expect(only.headers['grpc-status']).to.equal('5');
    expect(only.body).to.equal('');
  });

  it('counts each of N concurrent streams on one connection as a request in flight until it closes', async () => {
    const streams = 12;
    const answers = Array.from({ length: streams }, () => h2Request(client, '/held'));
    await settle(interceptor, streams);
    await until('the app has every stream', () => held.length === streams);
    for (const stream of held) {
      stream.respond({ ':status': 200 });
      stream.end('done');
    }
    expect((await Promise.all(answers)).map((a) => a.body)).to.deep.equal(Array(streams).fill('done'));
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(streams);
  });

  it('keeps a long stream counted while it is open, however long it is quiet', async () => {
    const answer = h2Request(client, '/held');
    await until('the app has the stream', () => held.length === 1);
    held[0]!.respond({ ':status': 200 });
    held[0]!.write('first');
    await settle(interceptor, 1);
    // Still counted after the answer started and went quiet; the stream is open.
    await until(
      'the first part relayed and the stream still counted',
      () => interceptor.activity.inFlight() === 1 && interceptor.activity.stats(true, false).requests === 0,
    );
    held[0]!.end('last');
    expect((await answer).body).to.equal('firstlast');
    await settle(interceptor, 0);
  });

  it('counts out a stream the client cancels, and cancels the app’s stream', async () => {
    const stream = client.request({ ':path': '/held' });
    stream.on('error', () => undefined);
    await until('the app has the stream', () => held.length === 1);
    await settle(interceptor, 1);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await settle(interceptor, 0);
    await until('the app’s stream reset with CANCEL', () => appClosed.includes(http2.constants.NGHTTP2_CANCEL));
    expect(interceptor.activity.stats(true, false).requests).to.equal(1);
  });

  it('resets the client’s stream when the app resets its own', async () => {
    const answer = h2Request(client, '/held');
    await until('the app has the stream', () => held.length === 1);
    held[0]!.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    expect((await answer).rstCode).to.equal(http2.constants.NGHTTP2_REFUSED_STREAM);
    await settle(interceptor, 0);
  });

  it('does not count probes and ignored paths over HTTP/2 either', async () => {
    await h2Request(client, '/', { 'user-agent': 'kube-probe/1.31' });
    await h2Request(client, '/healthz');
    await h2Request(client, '/counted');
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(1);
  });

  it('drains with GOAWAY: an open stream finishes, no new stream is accepted', async () => {
    const answer = h2Request(client, '/held');
    await until('the app has the stream', () => held.length === 1);
    const goaway = once(client, 'goaway');
    const drained = interceptor.drain();
    await goaway;
    const refused = await h2Request(client, '/late').then(
      () => 'answered',
      (error: Error) => error.message,
    );
    expect(refused).to.not.equal('answered');
    held[0]!.respond({ ':status': 200 });
    held[0]!.end('finished');
    expect((await answer).body).to.equal('finished');
    await drained;
    expect(interceptor.activity.stats(true, false).requests).to.equal(1);
  });
});

describe('interceptor: HTTP/2 guards', () => {
  let app: http2.Http2Server;
  let interceptor: RunningInterceptor;
  let held: http2.ServerHttp2Stream[];

  beforeEach(async () => {
    held = [];
    app = http2.createServer();
    app.on('stream', (stream) => {
      stream.on('error', () => undefined);
      held.push(stream);
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    interceptor = await startTestInterceptor((app.address() as net.AddressInfo).port, { headersMs: 1_000, keepAliveMs: 200 });
  });

  afterEach(async () => {
    for (const stream of held) stream.destroy();
    await interceptor.drain();
    await new Promise((resolve) => app.close(resolve));
  });

  it('sends GOAWAY to a connection idle for keepAliveMs, never to one with a quiet stream open', async () => {
    const busy = await h2Connect(interceptor.listenPort);
    const idle = await h2Connect(interceptor.listenPort);
    let busyWentAway = false;
    busy.once('goaway', () => (busyWentAway = true));
    try {
      const answer = h2Request(busy, '/quiet');
      await until('the app has the stream', () => held.length === 1);
      // The idle connection's GOAWAY says keepAliveMs has passed; the busy one's quiet stream is still open.
      await once(idle, 'goaway');
      expect(busyWentAway).to.equal(false);
      expect(interceptor.activity.inFlight()).to.equal(1);
      held[0]!.respond({ ':status': 200 });
      held[0]!.end('late');
      expect((await answer).body).to.equal('late');
      await once(busy, 'goaway');
    } finally {
      busy.destroy();
      idle.destroy();
    }
  });

  it('offers at most 100 concurrent streams, and resets a stream with more than 100 header fields (100 pass)', async () => {
    const client = await h2Connect(interceptor.listenPort);
    try {
      expect(client.remoteSettings.maxConcurrentStreams).to.equal(100);
      const fields = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-field-${i}`, 'v']));
      const tooMany = await h2Request(client, '/too-many', fields(101));
      expect(tooMany.status).to.equal(0);
      expect(tooMany.rstCode).to.equal(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      void h2Request(client, '/as-many-as-allowed', fields(100)).catch(() => undefined);
      await until('the stream with 100 fields reached the app', () => held.length === 1);
    } finally {
      client.destroy();
    }
  });
});

describe('interceptor: HTTP/2 to an app that speaks only HTTP/1.1, and the h2c Upgrade', () => {
  let app: http.Server;
  let interceptor: RunningInterceptor;
  /** What the app saw: `method url upgrade http2-settings connection`. */
  let seen: string[];

  beforeEach(async () => {
    seen = [];
    app = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.upgrade ?? '-'} ${String(req.headers['http2-settings'] ?? '-')} ${req.headers.connection ?? '-'}`);
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => res.end(`http/1.1 ${Buffer.concat(chunks).toString()}`));
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    interceptor = await startTestInterceptor((app.address() as net.AddressInfo).port);
  });

  afterEach(async () => {
    await interceptor.drain();
    await closeServer(app);
  });

  it('answers an HTTP/2 stream 502, saying the app does not speak h2c', async () => {
    const client = await h2Connect(interceptor.listenPort);
    try {
      const answer = await h2Request(client, '/grpc.Service/Call', { ':method': 'POST' }, 'x');
      expect(answer.status).to.equal(502);
      expect(answer.body).to.match(/does not speak HTTP\/2 \(h2c\)/);
    } finally {
      client.destroy();
    }
    await settle(interceptor, 0);
  });

  it('declines an h2c Upgrade: the request, body and keep-alive included, is served and counted as HTTP/1.1', async () => {
    const socket = net.connect(interceptor.listenPort, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    // As curl --http2 sends it over http://, then a second request on the same connection.
    socket.write(
      'POST /first HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /second HTTP/1.1\r\nHost: shop\r\n\r\n',
    );
    await until('both answers', () => (received.match(/HTTP\/1\.1 200/g) ?? []).length === 2, 10_000, 5);
    socket.destroy();
    expect(received).to.not.match(/101 Switching Protocols/);
    expect(received).to.include('http/1.1 hello');
    expect(seen).to.deep.equal(['POST /first - - keep-alive', 'GET /second - - keep-alive']);
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(2);
  });

  it('still answers a bare HTTP/2 preface (no SETTINGS frame after it) as HTTP/1.1 does', async () => {
    const socket = net.connect({ port: interceptor.listenPort, host: '127.0.0.1', allowHalfOpen: true });
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.end('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    await once(socket, 'close');
    expect(received).to.match(/^HTTP\/1\.1 400 Bad Request\r\n[^]*bad request: the connection ended inside an HTTP\/2 connection preface\n$/);
  });
});
