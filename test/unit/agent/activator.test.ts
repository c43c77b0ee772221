// The activator over real loopback sockets, with its clock driven by the test: hold deadlines,
// wake retries and the shutdown drain happen when the test moves time, never after a real wait.
// Which workload a request is for comes from the port it arrived on (listeners.ts).

import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HOLD_LIMITS } from '../../../src/core/activity/hold-ledger.ts';
import { targetKey, type ActivatorRoute, type SleepingService } from '../../../src/core/activity/route.ts';
import type { WakeRequest, WakeResponse } from '../../../src/protocol/wake.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import { Activator } from '../../../agent/node/activator/activator.ts';
import type { Backend } from '../../../agent/node/activator/directory.ts';
import { ActivatorListeners } from '../../../agent/node/activator/listeners.ts';
import { closeServer, request, type Reply } from '../../fixtures/processes.ts';
import { HandBackends, target } from './activator-support.ts';
import { ManualClock } from './manual-clock.ts';
import { until } from '../../fixtures/wait.ts';

describe('activator', () => {
  let clock: ManualClock;
  let backends: HandBackends;
  let wakeCalls: WakeRequest[];
  /** What the next wake calls answer, in order; when empty, accepted. */
  let wakeAnswers: (WakeResponse | Error)[];
  let activator: Activator;
  let listeners: ActivatorListeners;
  let app: http.Server;
  let appBackend: Backend;
  /** Requests the app received: `host path`. */
  let received: string[];
  /** Keep-alive client connections, as kube-proxy's clients have; destroyed after each test. */
  let client: http.Agent;
  const send = (port: number, path: string, headers: Record<string, string> = {}) => request(port, path, headers, client);

  const start = async (routes: ActivatorRoute[], limits = DEFAULT_HOLD_LIMITS) => {
    activator = new Activator({
      directory: backends,
      wake: (wakeRequest) => {
        wakeCalls.push(wakeRequest);
        const answer = wakeAnswers.shift() ?? { accepted: true };
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
      node: 'node-1',
      limits,
      clock,
      log: () => undefined,
    });
    listeners = new ActivatorListeners(activator, '127.0.0.1', () => undefined);
    await listeners.apply(routes);
  };
  const portOf = (t: SleepingService) => listeners.listening().find((l) => targetKey(l.target) === targetKey(t))!.port;
  const held = (workload: WorkloadKey) => activator.heldByWorkload().get(workload) ?? 0;

  beforeEach(async () => {
    clock = new ManualClock();
    backends = new HandBackends();
    wakeCalls = [];
    wakeAnswers = [];
    received = [];
    client = new http.Agent({ keepAlive: true });
    app = http.createServer((req, res) => {
      received.push(`${req.headers.host} ${req.url}`);
      req.resume();
      req.on('end', () => res.end(`ok ${req.url}`));
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    appBackend = { host: '127.0.0.1', port: (app.address() as AddressInfo).port };
  });

  afterEach(async () => {
    client.destroy();
    listeners.stopAccepting();
    activator.close();
    await closeServer(app);
  });

  it('serves a request to the workload of the port it arrived on, whatever its Host and X-Ebb-Workload say', async () => {
    const a = target('shop/a');
    const b = target('bank/b');
    await start([
      { port: 0, target: a },
      { port: 0, target: b },
    ]);

    const reply = send(portOf(a), '/pay', { Host: 'b.bank', 'X-Ebb-Workload': 'bank/b' });
    await until('the request held', () => held('shop/a') === 1);
    expect(held('bank/b')).to.equal(0);
    expect(backends.waits).to.deep.equal([targetKey(a)]);
    expect(wakeCalls).to.deep.equal([{ workload: 'shop/a', node: 'node-1', held: 1, service: { namespace: 'shop', name: 'a' } }]);

    backends.markReady(a, appBackend);
    const answer = await reply;
    expect(answer.status, answer.body).to.equal(200);
    expect(received).to.deep.equal(['b.bank /pay']); // the app of shop/a got it, headers untouched
    expect(wakeCalls.map((w) => w.workload)).to.deep.equal(['shop/a']);
  });

  it('answers 503 with Retry-After when the clock reaches the hold deadline, not before', async () => {
    const a = target('shop/a');
    await start([{ port: 0, target: a }], { ...DEFAULT_HOLD_LIMITS, deadlineMs: 1_000 });
    const reply = send(portOf(a), '/');
    await until('the request held', () => held('shop/a') === 1);

    clock.advance(999);
    expect(held('shop/a')).to.equal(1);
    clock.advance(1);
    expect(held('shop/a')).to.equal(0);
    const answer = await reply;
    expect(answer.status).to.equal(503);
    expect(answer.headers['retry-after']).to.equal('1');
    expect(answer.body).to.match(/shop\/a did not become ready within the hold deadline/);
    expect(received).to.deep.equal([]);
  });

  it('retries a failed wake-up after its backoff on the clock (250 ms, then 500 ms), and stops once accepted', async () => {
    const a = target('shop/a');
    wakeAnswers = [new Error('connection refused'), new Error('connection refused'), { accepted: true }];
    await start([{ port: 0, target: a }]);
    const reply = send(portOf(a), '/');
    // The hold deadline's timer, and the retry once the failure is handled.
    await until('the first retry scheduled', () => clock.pending() === 2);
    expect(wakeCalls).to.have.length(1);

    clock.advance(249);
    expect(wakeCalls).to.have.length(1);
    clock.advance(1);
    expect(wakeCalls).to.have.length(2);
    await until('the second retry scheduled', () => clock.pending() === 2);
    clock.advance(499);
    expect(wakeCalls).to.have.length(2);
    clock.advance(1);
    expect(wakeCalls).to.have.length(3);
    await until('the third answer handled', () => clock.pending() === 1);
    clock.advance(10_000);
    expect(wakeCalls).to.have.length(3);

    backends.markReady(a, appBackend);
    expect((await reply).status).to.equal(200);
  });

  it('releases the requests of one Service port when its backend is ready, and only those', async () => {
    const http = target('shop/a', 'http');
    const grpc = target('shop/a', 'grpc');
    await start([
      { port: 0, target: http },
      { port: 0, target: grpc },
    ]);
    const viaHttp = send(portOf(http), '/http');
    const viaGrpc = send(portOf(grpc), '/grpc');
    await until('both held', () => held('shop/a') === 2);
    expect(wakeCalls, 'one wake-up per workload').to.have.length(1);

    backends.markReady(http, appBackend);
    expect((await viaHttp).body).to.equal('ok /http');
    expect(held('shop/a')).to.equal(1);
    backends.markReady(grpc, appBackend);
    expect((await viaGrpc).body).to.equal('ok /grpc');
  });

  it('closes a port whose route went away, and still answers what it held there', async () => {
    const a = target('shop/a');
    const b = target('shop/b');
    await start([
      { port: 0, target: a },
      { port: 0, target: b },
    ]);
    const portB = portOf(b);
    const heldOnB = send(portB, '/b');
    await until('held on b', () => held('shop/b') === 1);

    await listeners.apply([{ port: 0, target: a }]);
    expect(listeners.listening().map((l) => targetKey(l.target))).to.deep.equal([targetKey(a)]);
    const refused = await send(portB, '/late').then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(refused).to.equal('ECONNREFUSED');

    backends.markReady(b, appBackend);
    const answer = await heldOnB;
    expect(answer.status).to.equal(200);
    expect(answer.headers.connection).to.equal('close');
  });

  it('opens a port another process holds once it is free, trying again by itself', async () => {
    const squatter = http.createServer();
    squatter.listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const port = (squatter.address() as AddressInfo).port;
    const a = target('shop/a');
    await start([{ port, target: a }]);
    expect(listeners.listening()).to.deep.equal([]);
    clock.advance(2_000);
    await until('a second attempt failed too', () => clock.pending() === 1);
    expect(listeners.listening()).to.deep.equal([]);

    await closeServer(squatter);
    clock.advance(2_000);
    await until('the port opened on a retry', () => listeners.listening().length === 1);
    const reply = send(port, '/late');
    await until('the request held', () => held('shop/a') === 1);
    backends.markReady(a, appBackend);
    expect((await reply).status).to.equal(200);
  });

  it('drains on shutdown: no new connection, what becomes ready is forwarded, the rest gets 503 when the drain ends', async () => {
    const a = target('shop/a');
    const b = target('shop/b');
    await start([
      { port: 0, target: a },
      { port: 0, target: b },
    ]);
    const [portA, portB] = [portOf(a), portOf(b)];
    const replies: Promise<Reply>[] = [];
    for (let i = 0; i < 3; i += 1) replies.push(send(portA, `/a${i}`), send(portB, `/b${i}`));
    await until('six held', () => held('shop/a') === 3 && held('shop/b') === 3);

    listeners.stopAccepting();
    let drained = false;
    const drain = activator.drain(1_000).then(() => (drained = true));
    const refused = await send(portA, '/new').then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(refused).to.equal('ECONNREFUSED');

    backends.markReady(a, appBackend);
    await until('a’s requests answered by the app', () => received.length === 3);
    expect(drained, 'b still holds').to.equal(false);
    clock.advance(999);
    expect(held('shop/b')).to.equal(3);
    clock.advance(1);
    await drain;

    const answers = await Promise.all(replies);
    expect(answers.map((a) => `${a.status} ${a.headers['retry-after'] ?? '-'}`)).to.deep.equal(['200 -', '503 1', '200 -', '503 1', '200 -', '503 1']);
    expect(
      answers.map((a) => a.headers.connection),
      'each client goes to another agent next',
    ).to.deep.equal(Array(6).fill('close'));
    expect(answers.filter((a) => a.status === 503).map((a) => a.body)).to.satisfy((bodies: string[]) => bodies.every((body) => /shutting down/.test(body)));
    expect(received.sort()).to.deep.equal([`127.0.0.1:${portA} /a0`, `127.0.0.1:${portA} /a1`, `127.0.0.1:${portA} /a2`]);
  });

  it('finishes a drain at once when nothing is held', async () => {
    await start([]);
    await activator.drain(20_000);
    expect(clock.pending()).to.equal(0);
  });
});
