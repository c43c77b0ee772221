// The controller's /metrics: every metric, or only those asked for by name.

import { expect } from 'chai';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';
import { createControllerServer } from '../../../src/controller/server.ts';
import { StaticTokenVerifier } from '../../../src/protocol/auth.ts';
import { closeServer, request } from '../../fixtures/processes.ts';

describe('controller server: /metrics', () => {
  it('renders every metric, or only the ones named by ?name=', async () => {
    const metrics = new ControllerMetrics();
    metrics.leader.set(1);
    metrics.recommendation.target.set({ namespace: 'shop', deployment: 'web', container: 'app', resource: 'cpu' }, 0.25);
    const server = createControllerServer({ verifier: new StaticTokenVerifier({}), agentIdentity: 'system:serviceaccount:ebb-system:ebb-agent', wake: () => Promise.resolve({ accepted: true }), ready: () => true, metrics });
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
});
