// The controller's HTTP API: /metrics, every metric or only those asked for by name; /wake, the
// Scaler's refusals as statuses.

import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';
import { createControllerServer, type ControllerWakeOutcome } from '../../../src/controller/server.ts';
import { StaticTokenVerifier } from '../../../src/protocol/auth.ts';
import { closeServer, request } from '../../fixtures/processes.ts';

describe('controller server: /metrics', () => {
  it('renders every metric, or only the ones named by ?name=', async () => {
    const metrics = new ControllerMetrics();
    metrics.leader.set(1);
    metrics.recommendation.target.set({ namespace: 'shop', deployment: 'web', container: 'app', resource: 'cpu' }, 0.25);
    const server = createControllerServer({
      verifier: new StaticTokenVerifier({}),
      agentIdentity: 'system:serviceaccount:ebb-system:ebb-agent',
      wake: () => Promise.resolve({ accepted: true }),
      ready: () => true,
      metrics,
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      const all = await request(port, '/metrics');
      expect(all.body).to.include('ebb_controller_leader 1').and.include('ebb_recommendation_target{');
      const some = await request(port, '/metrics?name=ebb_controller_leader&name=ebb_no_such_metric');
      expect(some.status).to.equal(200);
      expect(some.body).to.include('ebb_controller_leader 1').and.not.include('ebb_recommendation_target');
    } finally {
      await closeServer(server);
    }
  });

  it("answers a refused wake-up with the refusal's status: 503 from a standby, 409 for a workload ebb must not scale, 404 for one it does not know", async () => {
    let outcome: ControllerWakeOutcome = { accepted: true };
    const server = createControllerServer({
      verifier: new StaticTokenVerifier({ agent: 'system:serviceaccount:ebb-system:ebb-agent' }),
      agentIdentity: 'system:serviceaccount:ebb-system:ebb-agent',
      wake: () => Promise.resolve(outcome),
      ready: () => true,
      metrics: new ControllerMetrics(),
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const wake = () =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'POST', path: '/wake', headers: { Authorization: 'Bearer agent' } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ workload: 'shop/web', node: 'n', held: 1 }));
      });
    try {
      const statuses: Record<string, number> = { accepted: await wake() };
      for (const refusal of ['not-leader', 'paused', 'hpa-present', 'unknown-workload'] as const) {
        outcome = { accepted: false, refusal, reason: refusal };
        statuses[refusal] = await wake();
      }
      expect(statuses).to.deep.equal({ accepted: 200, 'not-leader': 503, paused: 409, 'hpa-present': 409, 'unknown-workload': 404 });
    } finally {
      await closeServer(server);
    }
  });
});
