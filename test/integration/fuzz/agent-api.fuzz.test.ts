// The agent's GET /activity and GET /usage for the controller (bearer token) under generated
// malformed input, over real sockets on 127.0.0.1, in process with static tokens.

import { expect } from 'chai';
import { once } from 'node:events';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createActivityServer } from '../../../agent/node/activity-server.ts';
import { RiseFeed } from '../../../agent/node/rise-feed.ts';
import { usageUnavailable } from '../../../agent/node/usage-collector.ts';
import { CachingTokenVerifier, StaticTokenVerifier } from '../../../src/protocol/auth.ts';
import { closeServer, CONTROLLER_TOKEN } from '../../fixtures/processes.ts';
import { fuzzSurface, type Surface } from './fuzz.ts';
import { exchange } from './raw-http.ts';

const CONTROLLER_IDENTITY = 'system:serviceaccount:ebb-system:ebb-controller';

describe('fuzz: agent /activity and /usage', function () {
  // Hundreds of cases, some of which end only at a server's own timeout: minutes on a machine with both cores busy.
  this.timeout(180_000);
  let server: http.Server;
  let port: number;

  const surface = (path: string): Surface => ({
    name: `agent ${path}`,
    endpoint: { port },
    valid: {
      method: 'GET',
      target: path,
      version: 'HTTP/1.1',
      headers: [
        ['Host', '10.0.0.7:18092'],
        ['Authorization', `Bearer ${CONTROLLER_TOKEN}`],
        ['Accept', 'application/json'],
      ],
      body: Buffer.alloc(0),
      framing: 'none',
      lineEnd: '\r\n',
    },
  });

  before(async () => {
    const verifier = new CachingTokenVerifier(
      new StaticTokenVerifier({ [CONTROLLER_TOKEN]: CONTROLLER_IDENTITY, 'agent-token': 'system:serviceaccount:ebb-system:ebb-agent' }),
    );
    const report = () => ({ node: 'node-1', generatedAt: Date.now(), windowMs: 10_000, workloads: [] });
    server = createActivityServer({
      activity: report,
      usage: () => usageUnavailable('node-1', 'static', Date.now()),
      rises: new RiseFeed('node-1'),
      verifier,
      allowedIdentity: CONTROLLER_IDENTITY,
      metrics: new Registry(),
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => closeServer(server));

  it('answers 150 malformed requests for /activity within the bound, never 5xx, each 4xx with a message, and keeps serving', async () => {
    await fuzzSurface(surface('/activity'), 150);
  });

  it('and 100 for /usage', async () => {
    await fuzzSurface(surface('/usage'), 100);
  });

  it('answers request targets that are no path (`//`, `//host/x`, `*`) with 404 and a message, and keeps serving', async () => {
    const request = (target: string) => Buffer.from(`GET ${target} HTTP/1.1\r\nHost: 10.0.0.7:18092\r\nAuthorization: Bearer ${CONTROLLER_TOKEN}\r\n\r\n`);
    for (const target of ['//', '//host/activity', '*']) {
      const { responses } = await exchange({ port }, { writes: [request(target)], answers: 1, boundMs: 5_000 });
      expect(
        responses.map(({ status, body }) => `${status} ${body.toString().trim()}`),
        target,
      ).to.deep.equal(['404 not found']);
    }
    const { responses } = await exchange({ port }, { writes: [request('/activity?pods=false')], answers: 1, boundMs: 5_000 });
    expect(responses[0]?.status).to.equal(200);
  });
});
