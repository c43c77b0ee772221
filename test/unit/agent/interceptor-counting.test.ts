// The interceptor's counting against real sockets on loopback (in-process): whatever happens to
// a request, in-flight goes back to exactly zero and each request is counted once.

import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { RunningInterceptor } from '../../../agent/interceptor/server.ts';
import { settle, startTestInterceptor } from './interceptor-support.ts';

describe('interceptor counting', () => {
  let app: http.Server;
  let interceptor: RunningInterceptor;
  let appSockets: net.Socket[] = [];
  /** Requests to /held/… wait here until the test releases them, so they are provably in flight. */
  let heldResponses: http.ServerResponse[] = [];
  /** Once released, a /held/ request that reaches the app late is answered at once. */
  let released = false;

  beforeEach(async () => {
    app = http.createServer((req, res) => {
      if (req.url === '/slow-body') {
        // Streams a response slowly so a client can leave in the middle of it.
        res.writeHead(200);
        res.write('first part');
        const timer = setInterval(() => res.write('.'), 20);
        res.on('close', () => clearInterval(timer));
        return;
      }
      req.resume();
      if (req.url?.startsWith('/held/') && !released) {
        heldResponses.push(res);
        return;
      }
      req.on('end', () => setTimeout(() => res.end('ok'), 20));
    });
    app.on('upgrade', (req, socket: net.Socket) => {
      appSockets.push(socket);
      if (req.headers.upgrade === 'declined') return void socket.end('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 3\r\n\r\nno\n');
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
      socket.on('data', (data) => socket.write(data));
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    const appPort = (app.address() as net.AddressInfo).port;
    interceptor = await startTestInterceptor(appPort);
  });

  afterEach(async () => {
    await interceptor.drain();
    for (const socket of appSockets) socket.destroy();
    appSockets = [];
    heldResponses = [];
    released = false;
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: interceptor.listenPort, path, headers, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });

  it('stays exact under 100 concurrent requests', async function () {
    // A hundred connections through the interceptor on a machine whose cores are both busy; each
    // wait inside is bounded by 10 s of wall time.
    this.timeout(60_000);
    const pending = Array.from({ length: 100 }, (_, i) => get(`/held/${i}`));
    await settle(interceptor, 100);
    // Counted in flight when the interceptor has a request; the app may get it a moment later.
    released = true;
    for (const res of heldResponses) res.end('ok');
    expect(await Promise.all(pending)).to.deep.equal(Array(100).fill(200));
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(100);
  });

  it('does not count kubelet probes, ignored user agents or ignored paths', async () => {
    await get('/', { 'User-Agent': 'kube-probe/1.31' });
    await get('/', { 'User-Agent': 'monitor/2' });
    await get('/healthz?verbose=1');
    await get('/counted');
    const stats = interceptor.activity.stats(true, false);
    expect(stats.requests).to.equal(1);
    expect(stats.lastRequestAt).to.be.a('number');
  });

  it('counts out a client that disconnects mid-request (body half sent)', async () => {
    const socket = net.connect(interceptor.listenPort, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly some bytes');
    await settle(interceptor, 1);
    socket.destroy();
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(1);
  });

  it('counts out a client that disconnects mid-response', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: interceptor.listenPort, path: '/slow-body', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
    });
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(1);
  });

  it('counts an upgraded connection as in flight while it is open, and relays its bytes', async () => {
    const socket = net.connect(interceptor.listenPort, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    const [head] = (await once(socket, 'data')) as [Buffer];
    expect(head.toString()).to.match(/^HTTP\/1.1 101/);
    socket.write('ping');
    const [echo] = (await once(socket, 'data')) as [Buffer];
    expect(echo.toString()).to.equal('ping');
    expect(interceptor.activity.inFlight()).to.equal(1);
    socket.destroy();
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(1);
  });

  it('closes and counts out an upgrade the app declines, though the client keeps sending and never ends its side', async () => {
    // allowHalfOpen: the client does not end its side when the interceptor ends its own; the
    // interceptor then closes the connection itself once LINGER_MS has passed.
    const socket = net.connect({ port: interceptor.listenPort, host: '127.0.0.1', allowHalfOpen: true });
    await once(socket, 'connect');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = once(socket, 'end');
    // 128 KiB behind the request, which the interceptor never reads as HTTP: the relayed answer
    // alone used to leave the socket, and the request's count, open for good (the fuzz suite).
    socket.write(`GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: declined\r\n\r\n${'x'.repeat(128 * 1024)}`);
    await ended;
    expect(Buffer.concat(received).toString()).to.match(/^HTTP\/1.1 426 Upgrade Required\r\n[^]*\r\n\r\nno\n$/);
    await settle(interceptor, 0);
    socket.destroy();
    expect(interceptor.activity.stats(true, false).requests).to.equal(1);
  });

  it('answers 503 with Retry-After while the app refuses connections, 502 when it resets one', async () => {
    const appPort = (app.address() as net.AddressInfo).port;
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
    const refused = await new Promise<http.IncomingMessage>((resolve) =>
      http.get({ host: '127.0.0.1', port: interceptor.listenPort, path: '/', agent: false }, resolve),
    );
    expect(refused.statusCode).to.equal(503);
    expect(refused.headers['retry-after']).to.equal('1');
    refused.resume();

    const resetting = net.createServer((socket) => socket.on('data', () => socket.resetAndDestroy()));
    resetting.listen(appPort, '127.0.0.1');
    await once(resetting, 'listening');
    const reset = await new Promise<{ status: number; body: string }>((resolve) =>
      http.get({ host: '127.0.0.1', port: interceptor.listenPort, path: '/', agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }),
    );
    expect(reset.status).to.equal(502);
    expect(reset.body).to.equal(`upstream 127.0.0.1:${appPort} reset the connection\n`);
    await new Promise((resolve) => resetting.close(resolve));
    app = http.createServer().listen(appPort, '127.0.0.1'); // for afterEach
    await settle(interceptor, 0);
  });
});
