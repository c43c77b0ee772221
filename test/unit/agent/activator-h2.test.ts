// HTTP/2 (h2c) at the activator over real loopback sockets, its clock driven by the test: a stream
// is held like a request (one per stream in the ledger, the same deadline, the same wake-up) and
// forwarded as an h2 stream once a backend is ready; an h2c Upgrade is held as HTTP/1.1.

import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HOLD_LIMITS } from '../../../src/core/activity/hold-ledger.ts';
import { targetKey, type SleepingService } from '../../../src/core/activity/route.ts';
import type { WakeRequest } from '../../../src/protocol/wake.ts';
import { Activator } from '../../../agent/node/activator/activator.ts';
import type { Backend } from '../../../agent/node/activator/directory.ts';
import { ActivatorListeners } from '../../../agent/node/activator/listeners.ts';
import { closeServer, request } from '../../fixtures/processes.ts';
import { until } from '../../fixtures/wait.ts';
import { HandBackends, target } from './activator-support.ts';
import { h2Connect, h2Request } from './h2-client.ts';
import { ManualClock } from './manual-clock.ts';

describe('activator over HTTP/2 (h2c)', () => {
  const a = target('shop/a');
  let clock: ManualClock;
  let backends: HandBackends;
  let wakeCalls: WakeRequest[];
  let activator: Activator;
  let listeners: ActivatorListeners;
  /** The ready pod's interceptor, speaking h2c: echoes method, path and body, and sends a trailer. */
  let pod: http2.Http2Server;
  let podBackend: Backend;
  let client: http2.ClientHttp2Session | undefined;

  const held = () => activator.heldByWorkload().get('shop/a') ?? 0;
  const portOf = (t: SleepingService) => listeners.listening().find((l) => targetKey(l.target) === targetKey(t))!.port;

  beforeEach(async () => {
    clock = new ManualClock();
    backends = new HandBackends();
    wakeCalls = [];
    pod = http2.createServer();
    pod.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'x-forwarded-for-seen': String(headers['x-forwarded-for']) }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(`${headers[':method']} ${headers[':path']} ${Buffer.concat(chunks).toString()}`);
      });
    });
    pod.listen(0, '127.0.0.1');
    await once(pod, 'listening');
    podBackend = { host: '127.0.0.1', port: (pod.address() as AddressInfo).port };
    activator = new Activator({
      directory: backends,
      wake: (wakeRequest) => {
        wakeCalls.push(wakeRequest);
        return Promise.resolve({ accepted: true });
      },
      node: 'node-1',
      limits: { ...DEFAULT_HOLD_LIMITS, deadlineMs: 1_000 },
      clock,
      log: () => undefined,
    });
    listeners = new ActivatorListeners(activator, '127.0.0.1', () => undefined);
    await listeners.apply([{ port: 0, target: a }]);
    client = await h2Connect(portOf(a));
  });

  afterEach(async () => {
    client?.destroy();
    listeners.stopAccepting();
    activator.close();
    await new Promise((resolve) => pod.close(resolve));
  });

  it('holds each stream of one connection as one request, wakes once, and forwards them as h2 when a backend is ready', async () => {
    const answers = [h2Request(client!, '/one'), h2Request(client!, '/two', { ':method': 'POST' }, 'a body'), h2Request(client!, '/three')];
    await until('three streams held', () => held() === 3);
    expect(wakeCalls.map((w) => w.workload)).to.deep.equal(['shop/a']);
    backends.markReady(a, podBackend);
    const [one, two, three] = await Promise.all(answers);
    expect([one?.body, two?.body, three?.body]).to.deep.equal(['GET /one ', 'POST /two a body', 'GET /three ']);
    expect(two?.trailers?.['grpc-status']).to.equal('0');
    expect(two?.headers['x-forwarded-for-seen']).to.equal('127.0.0.1');
    expect(held()).to.equal(0);
  });

  it('answers a held stream 503 with retry-after at the hold deadline, not before', async () => {
    const answer = h2Request(client!, '/late');
    await until('the stream held', () => held() === 1);
    clock.advance(999);
    expect(held()).to.equal(1);
    clock.advance(1);
    const refused = await answer;
    expect(refused.status).to.equal(503);
    expect(refused.headers['retry-after']).to.equal('1');
    expect(refused.body).to.match(/shop\/a did not become ready within the hold deadline/);
  });

  for (const [reset, code] of [
    ['cancels', http2.constants.NGHTTP2_CANCEL],
    ['resets with an error', http2.constants.NGHTTP2_INTERNAL_ERROR],
  ] as const) {
    it(`drops a held stream its client ${reset}, and never forwards it`, async () => {
      const stream = client!.request({ ':path': '/gone' });
      stream.on('error', () => undefined);
      await until('the stream held', () => held() === 1);
      stream.close(code);
      await until('the stream dropped', () => held() === 0);
      const forwarded: string[] = [];
      pod.on('stream', (_stream, headers) => forwarded.push(String(headers[':path'])));
      const after = h2Request(client!, '/after');
      await until('the next stream held', () => held() === 1);
      backends.markReady(a, podBackend);
      expect((await after).body).to.equal('GET /after ');
      expect(forwarded).to.deep.equal(['/after']);
    });
  }

  it('holds an h2c Upgrade as an HTTP/1.1 request (the upgrade declined) and forwards it as one', async () => {
    const app = http.createServer((req, res) => res.end(`http/1.1 ${req.url} ${req.headers.upgrade ?? 'no upgrade'}`));
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    try {
      const reply = request(portOf(a), '/up', { Connection: 'Upgrade, HTTP2-Settings', Upgrade: 'h2c', 'HTTP2-Settings': 'AAMAAABkAAQCAAAAAAIAAAAA' });
      await until('the request held', () => held() === 1);
      backends.markReady(a, { host: '127.0.0.1', port: (app.address() as AddressInfo).port });
      const answer = await reply;
      expect(answer.status).to.equal(200);
      expect(answer.body).to.equal('http/1.1 /up no upgrade');
    } finally {
      await closeServer(app);
    }
  });
});
