// An activator port under generated malformed input, over real sockets on 127.0.0.1, in process:
// each request is held until its workload's backend (a real app) is ready a moment later, then
// forwarded; and a client that pipelines a flood.

import { expect } from 'chai';
import { MAX_PIPELINED } from '../../../agent/http/hop-server.ts';
import { Activator } from '../../../agent/node/activator/activator.ts';
import type { Backend, BackendSource } from '../../../agent/node/activator/directory.ts';
import { ActivatorListeners } from '../../../agent/node/activator/listeners.ts';
import { DEFAULT_HOLD_LIMITS } from '../../../src/core/activity/hold-ledger.ts';
import type { SleepingService } from '../../../src/core/activity/route.ts';
import { closeServer } from '../../fixtures/processes.ts';
import { until } from '../../fixtures/wait.ts';
import { BOUND_MS, expectPipelineLimit, floodPipelined, fuzzSurface, heapAfterGc, startAppBehindHop, type AppBehindHop, type Surface } from './fuzz.ts';
import { exchange, type RawResponse } from './raw-http.ts';

const TARGET: SleepingService = { workload: 'shop/web', service: { namespace: 'shop', name: 'web' }, portName: 'http' };
/** Small, so an oversized body meets it: the activator answers 503 while it cannot hold one. */
const HELD_BYTES_CAP = 64 * 1024;

/** The backend, looked for every 2 ms: requests are held (their bodies buffered) a moment first. */
class SoonReady implements BackendSource {
  constructor(private readonly backend: () => Backend | undefined) {}

  whenReady(_target: SleepingService, callback: (backend: Backend) => void): () => void {
    const timer = setInterval(() => {
      const backend = this.backend();
      if (!backend) return;
      clearInterval(timer);
      callback(backend);
    }, 2);
    return () => clearInterval(timer);
  }
}

/**
 * The activator's own 503s say that the workload is not there yet, why, and when to retry: a body
 * over what it may hold while the workload wakes, an upgrade (never held). Once the workload is
 * awake the same request reaches it.
 */
const notYet = (response: RawResponse, head: boolean) =>
  response.status === 503 &&
  response.headers['retry-after'] === '1' &&
  (head || /^activator: (not holding the request|the workload is waking up)/.test(response.body.toString()));

describe('fuzz: activator port', function () {
  // Hundreds of cases, some of which end only at a server's own timeout: minutes on a machine with both cores busy.
  this.timeout(180_000);
  let app: AppBehindHop;
  let activator: Activator;
  let listeners: ActivatorListeners;
  let surface: Surface;
  /** When set, the backend is never ready: requests stay held. */
  let asleep: boolean;

  before(async () => {
    asleep = false;
    app = await startAppBehindHop();
    const backend = { host: '127.0.0.1', port: app.port };
    activator = new Activator({
      directory: new SoonReady(() => (asleep ? undefined : backend)),
      wake: undefined,
      node: 'node-1',
      limits: { ...DEFAULT_HOLD_LIMITS, maxBytesPerWorkload: HELD_BYTES_CAP },
      log: () => undefined,
    });
    listeners = new ActivatorListeners(activator, '127.0.0.1', () => undefined);
    await listeners.apply([{ port: 0, target: TARGET }]);
    surface = {
      name: 'activator',
      endpoint: { port: listeners.listening()[0]!.port },
      valid: {
        method: 'POST',
        target: '/checkout',
        version: 'HTTP/1.1',
        headers: [
          ['Host', 'web.shop.svc.cluster.local'],
          ['Content-Type', 'application/json'],
        ],
        body: Buffer.from(JSON.stringify({ cart: [{ sku: 'tea', quantity: 2 }], coupon: null })),
        framing: 'length',
        lineEnd: '\r\n',
      },
      bodyCap: HELD_BYTES_CAP,
      acceptable5xx: notYet,
      settled: async () => {
        await until('nothing held', () => activator.heldByWorkload().size === 0, BOUND_MS, 5);
        expect(app.smuggled.splice(0), 'requests the app got that the activator did not forward').to.deep.equal([]);
      },
    };
  });
  after(async () => {
    listeners.stopAccepting();
    activator.close();
    await closeServer(app.server);
  });

  it('answers 200 malformed requests within the bound, never 5xx but its 503 to retry, each 4xx with a message, keeps serving, and holds nothing after', async () => {
    await fuzzSurface(surface, 200);
  });

  it(`holds at most ${MAX_PIPELINED} of a flood of pipelined requests, answers the rest 429 with a message, and stays within its memory`, async () => {
    asleep = true;
    const before = heapAfterGc();
    const one = 'GET /flood HTTP/1.1\r\nHost: web.shop\r\n\r\n';
    const flood = floodPipelined(surface.endpoint.port, one);
    await until(`${MAX_PIPELINED} requests held`, () => activator.heldByWorkload().get(TARGET.workload) === MAX_PIPELINED, BOUND_MS, 5);
    const heldHeap = heapAfterGc() - before;
    expect(heldHeap, `heap while the flood is held: ${(heldHeap / 2 ** 20).toFixed(1)} MiB`).to.be.below(32 * 2 ** 20);
    expect(activator.heldByWorkload().get(TARGET.workload), 'held after a collection').to.equal(MAX_PIPELINED);

    // The backend wakes: the held ones are forwarded, then the refusal says why and closes.
    asleep = false;
    const outcome = await exchange(surface.endpoint, { writes: [Buffer.from(one)], answers: 1, boundMs: BOUND_MS });
    expect(outcome.responses[0]?.status, 'another client, meanwhile').to.equal(200);
    expectPipelineLimit(await flood.answersOnceClosed(), MAX_PIPELINED);
    await until('nothing held', () => activator.heldByWorkload().size === 0, BOUND_MS, 5);
  });
});
