// The controller's POST /wake (and its probes and metrics) under generated malformed input, over
// real sockets on 127.0.0.1, in process with static agent tokens and a scaler that accepts.

import { expect } from 'chai';
import { once } from 'node:events';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';
import { createControllerServer } from '../../../src/controller/server.ts';
import { CachingTokenVerifier, StaticTokenVerifier } from '../../../src/protocol/auth.ts';
import type { WakeRequest } from '../../../src/protocol/wake.ts';
import { closeServer } from '../../fixtures/processes.ts';
import { BOUND_MS, fuzzSurface, type Surface } from './fuzz.ts';
import { exchange } from './raw-http.ts';

const AGENT_IDENTITY = 'system:serviceaccount:ebb-system:ebb-agent';

const AGENT_TOKEN = 'agent-token';
/** The controller's cap (src/controller/server.ts). */
const BODY_CAP = 16 * 1024;

describe('fuzz: controller /wake', function () {
  // Hundreds of cases, some of which end only at a server's own timeout: minutes on a machine with both cores busy.
  this.timeout(180_000);
  let server: http.Server;
  let surface: Surface;
  let wakes: WakeRequest[];

  before(async () => {
    wakes = [];
    const verifier = new CachingTokenVerifier(new StaticTokenVerifier({ [AGENT_TOKEN]: AGENT_IDENTITY, 'someone-else': 'system:serviceaccount:shop:web' }));
    server = createControllerServer({
      verifier,
      agentIdentity: AGENT_IDENTITY,
      wake: (request) => {
        wakes.push(request);
        return Promise.resolve({ accepted: true });
      },
      ready: () => true,
      metrics: new ControllerMetrics(),
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    surface = {
      name: 'controller',
      endpoint: { port: (server.address() as AddressInfo).port },
      valid: {
        method: 'POST',
        target: '/wake',
        version: 'HTTP/1.1',
        headers: [
          ['Host', 'ebb-controller.ebb-system.svc:18093'],
          ['Authorization', `Bearer ${AGENT_TOKEN}`],
          ['Content-Type', 'application/json'],
        ],
        body: Buffer.from(JSON.stringify({ workload: 'shop/web', service: { namespace: 'shop', name: 'web' }, node: 'node-1', held: 3 })),
        framing: 'length',
        lineEnd: '\r\n',
      },
      bodyCap: BODY_CAP,
    };
  });
  after(() => closeServer(server));

  it('answers 200 malformed requests within the bound, never 5xx, each 4xx with a message, and keeps serving', async () => {
    await fuzzSurface(surface, 200);
    expect(
      wakes.every((wake) => typeof wake.workload === 'string' && typeof wake.held === 'number'),
      'only well-formed wake requests reach the scaler',
    ).to.equal(true);
  });

  it('answers a body over the cap with 413 and a message before reading it all, declared or streamed', async () => {
    const body = Buffer.alloc(BODY_CAP * 64, 'x');
    const head = (framing: string) => `POST /wake HTTP/1.1\r\nHost: c\r\nAuthorization: Bearer ${AGENT_TOKEN}\r\n${framing}\r\n\r\n`;
    const chunked = Buffer.concat([
      Buffer.from(head('Transfer-Encoding: chunked')),
      ...Array.from({ length: 64 }, () => Buffer.concat([Buffer.from(`${BODY_CAP.toString(16)}\r\n`), body.subarray(0, BODY_CAP), Buffer.from('\r\n')])),
    ]);
    for (const writes of [[Buffer.from(head(`Content-Length: ${body.length}`)), body], [chunked]]) {
      // Sent 16 KiB at a time, stopping at the first answer, as a client that reads does.
      const pieces = writes.flatMap((bytes) =>
        Array.from({ length: Math.ceil(bytes.length / BODY_CAP) }, (_, i) => bytes.subarray(i * BODY_CAP, (i + 1) * BODY_CAP)),
      );
      const outcome = await exchange(surface.endpoint, { writes: pieces, pauseMs: 1, stopOnAnswer: true, answers: 1, boundMs: BOUND_MS });
      expect(outcome.responses.map((r) => r.status)).to.deep.equal([413]);
      expect(outcome.responses[0]!.body.toString()).to.include(`body over ${BODY_CAP} bytes`);
      const total = writes.reduce((sum, bytes) => sum + bytes.length, 0);
      expect(outcome.written, 'bytes sent before the answer').to.be.below(total / 2);
    }
  });
});
