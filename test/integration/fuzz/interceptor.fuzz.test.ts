// The interceptor's proxy port and admin port under generated malformed input, over real sockets on
// 127.0.0.1, in process in front of a real app; and a client that pipelines a flood.

import { expect } from 'chai';
import http from 'node:http';
import { MAX_PIPELINED } from '../../../agent/http/hop-server.ts';
import { startInterceptor, type RunningInterceptor } from '../../../agent/interceptor/server.ts';
import { closeServer } from '../../fixtures/processes.ts';
import { until } from '../../fixtures/wait.ts';
import { BOUND_MS, expectPipelineLimit, floodPipelined, fuzzSurface, heapAfterGc, startAppBehindHop, type AppBehindHop, type Surface } from './fuzz.ts';
import { exchange } from './raw-http.ts';

describe('fuzz: interceptor', function () {
  // Hundreds of cases, some of which end only at a server's own timeout: minutes on a machine with both cores busy.
  this.timeout(180_000);
  let app: AppBehindHop;
  let interceptor: RunningInterceptor;
  /** Requests the app is holding, answered when the test says so (the flood's first ones). */
  let holding: http.ServerResponse[];
  let hold: boolean;

  before(async () => {
    holding = [];
    hold = false;
    app = await startAppBehindHop((res) => {
      if (hold) holding.push(res);
      return hold;
    });
    interceptor = await startInterceptor({
      listenHost: '127.0.0.1',
      listenPort: 0,
      appHost: '127.0.0.1',
      appPort: app.port,
      adminPort: 0,
      workload: 'shop/app',
      ignorePaths: new Set(),
      ignoreUserAgents: ['kube-probe/'],
      drainMs: 100,
    });
  });
  after(async () => {
    await interceptor.drain();
    await closeServer(app.server);
  });

  const proxy = (): Surface => ({
    name: 'interceptor proxy',
    endpoint: { port: interceptor.listenPort },
    valid: {
      method: 'POST',
      target: '/orders?page=2',
      version: 'HTTP/1.1',
      headers: [
        ['Host', 'shop.example'],
        ['Content-Type', 'application/json'],
        ['User-Agent', 'fuzz/1'],
      ],
      body: Buffer.from(JSON.stringify({ item: 'tea', quantity: 2, gift: { to: 'ann', note: 'hi' } })),
      framing: 'length',
      lineEnd: '\r\n',
    },
    settled: async () => {
      await until('nothing in flight', () => interceptor.activity.inFlight() === 0, BOUND_MS, 5);
      expect(app.smuggled.splice(0), 'requests the app got that the interceptor did not forward').to.deep.equal([]);
    },
  });

  it('proxy: answers 200 malformed requests within the bound, never 5xx, each 4xx with a message, keeps serving, and counts nothing left in flight', async () => {
    await fuzzSurface(proxy(), 200);
  });

  it('admin: answers 100 malformed requests the same way', async () => {
    await fuzzSurface(
      {
        name: 'interceptor admin',
        endpoint: { port: interceptor.adminPort },
        valid: {
          method: 'GET',
          target: '/stats',
          version: 'HTTP/1.1',
          headers: [['Host', '10.1.2.3:18090']],
          body: Buffer.alloc(0),
          framing: 'none',
          lineEnd: '\r\n',
        },
      },
      100,
    );
  });

  it(`holds at most ${MAX_PIPELINED} of a flood of pipelined requests, answers the rest 429 with a message, and stays within its memory`, async () => {
    hold = true;
    const before = heapAfterGc();
    const one = 'GET /flood HTTP/1.1\r\nHost: shop.example\r\n\r\n';
    const flood = floodPipelined(interceptor.listenPort, one);
    await until(`${MAX_PIPELINED} requests at the app`, () => holding.length === MAX_PIPELINED, BOUND_MS, 5);
    expect(interceptor.activity.inFlight(), 'requests counted in flight').to.equal(MAX_PIPELINED);
    const heldHeap = heapAfterGc() - before;
    expect(heldHeap, `heap while the flood is held: ${(heldHeap / 2 ** 20).toFixed(1)} MiB`).to.be.below(32 * 2 ** 20);

    hold = false;
    for (const res of holding.splice(0)) res.end('ok');
    expectPipelineLimit(await flood.answersOnceClosed(), MAX_PIPELINED);
    await until('nothing in flight', () => interceptor.activity.inFlight() === 0, BOUND_MS, 5);
    const outcome = await exchange({ port: interceptor.listenPort }, { writes: [Buffer.from(one)], answers: 1, boundMs: BOUND_MS });
    expect(outcome.responses[0]?.status).to.equal(200);
  });
});
