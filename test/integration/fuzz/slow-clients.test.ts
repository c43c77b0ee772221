// The header and idle timeouts of the interceptor's proxy port and of an activator port, against
// slow clients on real sockets: a client that never finishes its request head (trickling a byte
// at a time, or silent) is answered 408 and disconnected within headersMs and one check of Node's;
// an idle keep-alive connection is closed after keepAliveMs; neither timeout cuts a request that
// has arrived and waits for its answer (held by the activator, or at a slow app). In process with
// short timeouts, then through each program's environment as a child process.

import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { checkingIntervalMs, type ClientTimeouts } from '../../../agent/http/hop-server.ts';
import { INTERCEPTOR_CLIENT_TIMEOUTS, interceptorConfigFromEnv } from '../../../agent/interceptor/config.ts';
import { startInterceptor, type RunningInterceptor } from '../../../agent/interceptor/server.ts';
import { Activator } from '../../../agent/node/activator/activator.ts';
import type { Backend, BackendSource } from '../../../agent/node/activator/directory.ts';
import { ActivatorListeners } from '../../../agent/node/activator/listeners.ts';
import { ACTIVATOR_CLIENT_TIMEOUTS, agentConfigFromEnv } from '../../../agent/node/config.ts';
import { DEFAULT_HOLD_LIMITS } from '../../../src/core/activity/hold-ledger.ts';
import type { SleepingService } from '../../../src/core/activity/route.ts';
import { closeServer, killAll, startAgent, startInterceptor as startInterceptorProgram } from '../../fixtures/processes.ts';
import { parseResponses } from './raw-http.ts';

const TIMEOUTS: ClientTimeouts = { headersMs: 300, keepAliveMs: 400 };
/** However loaded the machine, Node's timer check runs within this of when it is due. */
const SLACK_MS = 1_500;
const HEAD = 'GET /slow HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: slowloris\r\n';

interface Closed {
  ms: number;
  received: string;
}

/**
 * Connects and writes `bytes` in pieces of `pieceLength` (a byte at a time unless said), one every
 * `everyMs`, then nothing more; resolves when the server closes the connection, rejects when it
 * has not within `boundMs`.
 */
function trickle(port: number, bytes: string, everyMs: number, boundMs: number, pieceLength = 1): Promise<Closed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let next = 0;
    const writer = setInterval(() => {
      if (next >= bytes.length || !socket.writable) return;
      socket.write(bytes.slice(next, next + pieceLength));
      next += pieceLength;
    }, everyMs);
    const bound = setTimeout(() => {
      clearInterval(writer);
      socket.destroy();
      reject(new Error(`still connected after ${boundMs} ms, ${next} bytes sent`));
    }, boundMs);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(writer);
      clearTimeout(bound);
      resolve({ ms: performance.now() - started, received });
    });
  });
}

/** The bound within which a client whose head is not complete must be gone. */
const headBound = (timeouts: ClientTimeouts) => timeouts.headersMs + checkingIntervalMs(timeouts) + SLACK_MS;

function expectTimedOut(closed: Closed, timeouts: ClientTimeouts): void {
  const [answer] = parseResponses(Buffer.from(closed.received, 'latin1'), [], true).responses;
  expect(answer?.status, closed.received).to.equal(408);
  expect(answer?.body.toString()).to.include(`must arrive within ${timeouts.headersMs} ms`);
  // Node checks the head's age only once it is past the timeout: never earlier.
  expect(closed.ms).to.be.at.least(timeouts.headersMs - 5);
}

/** Sends one request on a new connection and waits for its answer; the connection stays open. */
async function requestKeptAlive(port: number, path: string): Promise<{ socket: net.Socket; status: number; closed: Promise<number> }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = Buffer.alloc(0);
  let answered!: (status: number) => void;
  const status = new Promise<number>((resolve) => (answered = resolve));
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const [answer] = parseResponses(received, [], false).responses;
    if (answer) answered(answer.status);
  });
  const closed = once(socket, 'close').then(() => performance.now());
  socket.write(`GET ${path} HTTP/1.1\r\nHost: shop.example\r\n\r\n`);
  return { socket, status: await status, closed };
}

/** The slow-client checks both forwarding hops get. */
function slowClientChecks(hop: () => { port: number; held: () => number; release: () => void }): void {
  it('answers 408 and disconnects a client that trickles its head a byte at a time and never ends it', async () => {
    const closed = await trickle(hop().port, HEAD, 20, headBound(TIMEOUTS));
    expectTimedOut(closed, TIMEOUTS);
  });

  it('answers 408 and disconnects a client that connects and sends nothing', async () => {
    const closed = await trickle(hop().port, '', 20, headBound(TIMEOUTS));
    expectTimedOut(closed, TIMEOUTS);
  });

  it('serves a slow client whose head arrives within the timeout', async () => {
    const request = `GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`;
    hop().release();
    // Four pieces 25 ms apart: done in a quarter of the timeout, with room for a loaded machine.
    const closed = await trickle(hop().port, request, 25, headBound(TIMEOUTS), Math.ceil(request.length / 4));
    expect(closed.received).to.match(/^HTTP\/1\.1 200 /);
  });

  it('closes an idle keep-alive connection after keepAliveMs', async () => {
    hop().release();
    const { status, closed } = await requestKeptAlive(hop().port, '/ok');
    expect(status).to.equal(200);
    const answeredAt = performance.now();
    // Node keeps an idle connection 1 s beyond the keep-alive it advertises.
    const closedAt = await Promise.race([
      closed,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error('idle connection still open')), TIMEOUTS.keepAliveMs + 1_000 + SLACK_MS)),
    ]);
    expect(closedAt - answeredAt).to.be.at.least(TIMEOUTS.keepAliveMs - 5);
  });

  it('cuts no request that has arrived, however long it waits for its answer', async () => {
    const { port, held, release } = hop();
    const waiting = requestKeptAlive(port, '/held');
    await new Promise<void>((resolve, reject) => {
      const deadline = performance.now() + 5_000;
      const check = () => (held() === 1 ? resolve() : performance.now() > deadline ? reject(new Error('the request never arrived')) : setTimeout(check, 5));
      check();
    });
    // A client that connected after it and sent nothing has been timed out: more than the
    // header timeout (and a check) has passed since the waiting request arrived.
    expectTimedOut(await trickle(port, '', 20, headBound(TIMEOUTS)), TIMEOUTS);
    expect(held(), 'the request still waits').to.equal(1);
    release();
    const { socket, status } = await waiting;
    expect(status).to.equal(200);
    socket.destroy();
  });
}

describe('slow clients: the interceptor proxy port', function () {
  this.timeout(20_000);
  let app: http.Server;
  let interceptor: RunningInterceptor;
  let parked: http.ServerResponse[] = [];

  before(async () => {
    app = http.createServer((req, res) => {
      req.resume();
      if (req.url === '/held') return void parked.push(res);
      res.end('ok');
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    interceptor = await startInterceptor({
      listenHost: '127.0.0.1',
      listenPort: 0,
      appHost: '127.0.0.1',
      appPort: (app.address() as net.AddressInfo).port,
      adminPort: 0,
      workload: 'shop/app',
      ignorePaths: new Set(),
      ignoreUserAgents: [],
      drainMs: 100,
      clientTimeouts: TIMEOUTS,
    });
  });
  after(async () => {
    await interceptor.drain();
    await closeServer(app);
  });

  slowClientChecks(() => ({
    port: interceptor.listenPort,
    held: () => parked.length,
    release: () => {
      for (const res of parked) res.end('ok');
      parked = [];
    },
  }));
});

describe('slow clients: an activator port', function () {
  this.timeout(20_000);
  const target: SleepingService = { workload: 'shop/web', service: { namespace: 'shop', name: 'web' }, portName: 'http' };
  let app: http.Server;
  let activator: Activator;
  let listeners: ActivatorListeners;
  let awake: Backend | undefined;
  let backend: Backend;

  before(async () => {
    app = http.createServer((req, res) => {
      req.resume();
      res.end('ok');
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    backend = { host: '127.0.0.1', port: (app.address() as net.AddressInfo).port };
    // Held until the test wakes the backend.
    const directory: BackendSource = {
      whenReady: (_target, callback) => {
        const timer = setInterval(() => {
          if (!awake) return;
          clearInterval(timer);
          callback(awake);
        }, 5);
        return () => clearInterval(timer);
      },
    };
    activator = new Activator({ directory, wake: undefined, node: 'node-1', limits: DEFAULT_HOLD_LIMITS, log: () => undefined });
    listeners = new ActivatorListeners(activator, '127.0.0.1', () => undefined, TIMEOUTS);
    await listeners.apply([{ port: 0, target }]);
  });
  beforeEach(() => (awake = undefined));
  after(async () => {
    listeners.stopAccepting();
    activator.close();
    await closeServer(app);
  });

  slowClientChecks(() => ({
    port: listeners.listening()[0]!.port,
    held: () => activator.heldByWorkload().get(target.workload) ?? 0,
    release: () => (awake = backend),
  }));
});

describe('slow clients: the timeouts as the programs read them', function () {
  this.timeout(30_000);
  after(killAll);

  it('default to 10 s for the head and 65 s for an idle connection, and take whole milliseconds from the environment', () => {
    const interceptorEnv = { EBB_WORKLOAD: 'shop/app', EBB_LISTEN_PORT: '8080', EBB_APP_PORT: '8081' };
    expect(interceptorConfigFromEnv(interceptorEnv).clientTimeouts).to.deep.equal(INTERCEPTOR_CLIENT_TIMEOUTS);
    expect(INTERCEPTOR_CLIENT_TIMEOUTS).to.deep.equal({ headersMs: 10_000, keepAliveMs: 65_000 });
    expect(interceptorConfigFromEnv({ ...interceptorEnv, EBB_HEADERS_TIMEOUT_MS: '2500', EBB_KEEP_ALIVE_TIMEOUT_MS: '90000' }).clientTimeouts).to.deep.equal({
      headersMs: 2_500,
      keepAliveMs: 90_000,
    });
    expect(() => interceptorConfigFromEnv({ ...interceptorEnv, EBB_HEADERS_TIMEOUT_MS: '10s' })).to.throw(
      'EBB_HEADERS_TIMEOUT_MS: "10s" is not accepted: expected a whole number ≥ 1',
    );

    const agentEnv = { NODE_NAME: 'node-1' };
    expect(agentConfigFromEnv(agentEnv).activatorTimeouts).to.deep.equal(ACTIVATOR_CLIENT_TIMEOUTS);
    expect(ACTIVATOR_CLIENT_TIMEOUTS).to.deep.equal({ headersMs: 10_000, keepAliveMs: 65_000 });
    expect(
      agentConfigFromEnv({ ...agentEnv, EBB_ACTIVATOR_HEADERS_TIMEOUT_MS: '2500', EBB_ACTIVATOR_KEEP_ALIVE_TIMEOUT_MS: '90000' }).activatorTimeouts,
    ).to.deep.equal({
      headersMs: 2_500,
      keepAliveMs: 90_000,
    });
  });

  it('the interceptor program disconnects a client that never ends its head, by EBB_HEADERS_TIMEOUT_MS', async () => {
    const { ready } = await startInterceptorProgram(1, { EBB_HEADERS_TIMEOUT_MS: String(TIMEOUTS.headersMs) });
    const port = Number(ready.listen.split(':').at(-1));
    expectTimedOut(await trickle(port, HEAD, 20, headBound(TIMEOUTS)), TIMEOUTS);
  });

  it('the agent program disconnects one at its activator port, by EBB_ACTIVATOR_HEADERS_TIMEOUT_MS', async () => {
    const { ready } = await startAgent({ EBB_STATIC_BACKENDS: 'shop/web=127.0.0.1:1', EBB_ACTIVATOR_HEADERS_TIMEOUT_MS: String(TIMEOUTS.headersMs) });
    expectTimedOut(await trickle(ready.activator, HEAD, 20, headBound(TIMEOUTS)), TIMEOUTS);
  });
});
