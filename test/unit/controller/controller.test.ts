// The controller built in process (buildController), as http-add-on builds its proxy handler: no
// program, no API server (its KubeConfig points at a closed loopback port and nothing is started),
// a static token verifier. What it answers before it has synced or leads.

import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { controllerConfig } from '../../../src/controller/config.ts';
import { buildController, type Controller } from '../../../src/controller/controller.ts';
import { StaticTokenVerifier } from '../../../src/protocol/auth.ts';
import { closeServer, request } from '../../fixtures/processes.ts';

const AGENT_TOKEN = 'agent-token';

function unreachableCluster(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'none', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'none', token: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  return kubeConfig;
}

function postWake(port: number, token: string, body: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/wake', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('controller: built in process', () => {
  let controller: Controller;
  let port: number;
  const logged: string[] = [];

  before(async () => {
    const config = controllerConfig({ POD_NAMESPACE: 'platform-ebb', POD_NAME: 'ebb-controller-0', EBB_TOKEN_FILE: '/nonexistent' });
    const verifier = new StaticTokenVerifier({
      [AGENT_TOKEN]: 'system:serviceaccount:platform-ebb:ebb-agent',
      'ebb-system-agent': 'system:serviceaccount:ebb-system:ebb-agent',
    });
    controller = buildController(config, { kubeConfig: unreachableCluster(), verifier, log: (level, msg) => logged.push(`${level} ${msg}`) });
    controller.server.listen(0, '127.0.0.1');
    await once(controller.server, 'listening');
    port = (controller.server.address() as AddressInfo).port;
  });
  after(() => closeServer(controller.server));

  it('is alive but not ready before its caches have synced', async () => {
    expect((await request(port, '/healthz')).status).to.equal(200);
    expect(await request(port, '/readyz')).to.include({ status: 503, body: 'caches not synced yet\n' });
  });

  it('takes wake-ups only from the agents of its own namespace, and says 404 for a workload it does not know', async () => {
    expect(await postWake(port, 'ebb-system-agent', { workload: 'shop/web', node: 'n', held: 1 })).to.deep.include({ status: 403 });
    expect(await postWake(port, AGENT_TOKEN, { workload: 'shop/web', node: 'n', held: 1 })).to.deep.equal({
      status: 404,
      body: { accepted: false, reason: 'shop/web is not an opted-in Deployment' },
    });
  });

  it('ticks without a word to the API server while it does not lead', async () => {
    await controller.tick();
    expect(await controller.metrics.registry.getSingleMetricAsString('ebb_controller_tick_duration_seconds')).to.include(
      'ebb_controller_tick_duration_seconds_count 1',
    );
    expect(logged).to.deep.equal([]);
  });
});
