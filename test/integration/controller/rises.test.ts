// A burst between two ticks, on the real control plane: a real agent scraping a real interceptor
// in front of a real app tells the controller that the workload's load rose (GET /activity/rises),
// and the controller scales it up at once instead of waiting for its next tick. The ticks are a
// minute apart here, so only that path can scale within the test's bounds.

import { expect } from 'chai';
import type http from 'node:http';
import { optedInNamespace, useCluster } from '../../fixtures/cluster-support.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { startController, type ControllerReady } from '../../fixtures/controller.ts';
import { startLoad } from '../../fixtures/load.ts';
import { CONTROLLER_TOKEN, closeServer, killAll, request, startAgent, startApp, startInterceptor, freePort, type Started } from '../../fixtures/processes.ts';

const namespace = 'shop';
const TICK_MS = 60_000;

describe('controller: a burst between two ticks, on the real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, apps } = useCluster({ nodes: 1 });
  const servers: http.Server[] = [];
  let interceptorPort = 0;
  let controller: Started<ControllerReady> | undefined;
  let controllerStartedAt = 0;

  /** The series' values, from one scrape. */
  const metrics = async (...series: string[]) => {
    const lines = (await request(controller!.ready.port, '/metrics')).body.split('\n');
    return series.map((name) => Number(lines.find((candidate) => candidate.startsWith(`${name} `))?.split(' ')[1] ?? 0));
  };
  const metric = async (series: string) => (await metrics(series))[0]!;
  const replicas = async () => (await apps.readNamespacedDeploymentScale({ name: 'burst', namespace })).spec?.replicas ?? 0;

  before(async function () {
    this.timeout(120_000);
    await optedInNamespace(controlPlane().kubeConfig, namespace);
    const appPort = await freePort();
    servers.push(await startApp(appPort, 250));
    const interceptor = await startInterceptor(appPort, { EBB_WORKLOAD: `${namespace}/burst` });
    interceptorPort = Number(interceptor.ready.listen.split(':').pop());
    const agent = await startAgent({ EBB_STATIC_TARGETS: `127.0.0.1:${interceptor.ready.admin}`, NODE_NAME: 'kwok-node-0' });
    const labels = { app: 'burst' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'burst', namespace, annotations: { 'ebb.dev/target-concurrency': '2', 'ebb.dev/max-replicas': '4' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'app:1', ports: [{ name: 'http', containerPort: 8080 }] }] } },
        },
      },
    });
    controllerStartedAt = Date.now();
    controller = await startController(controlPlane(), 'controller-a', CONTROLLER_TOKEN, {
      EBB_AGENT_URLS: `http://127.0.0.1:${agent.ready.activity}`,
      EBB_ACTIVATOR_ADDRESSES: '192.0.2.10',
      EBB_TICK_MS: String(TICK_MS),
    });
  });

  // A failed test shows what the controller said and counted.
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !controller) return;
    console.log(controller.output.slice(-30).join('\n'));
    console.log('ticks', await metric('ebb_controller_tick_duration_seconds_count'), 'rises', await metric('ebb_load_rises_total'));
  });

  after(async () => {
    await killAll();
    await Promise.all(servers.map((server) => closeServer(server)));
  });

  it('scales up within seconds of the burst, long before the next tick is due', async () => {
    // A new leader decides at once: its first tick reads the agent and opens the question.
    await eventually('the leader’s first tick', async () => ((await metric('ebb_controller_tick_duration_seconds_count')) >= 1 ? true : undefined), 30_000);
    expect(await replicas()).to.equal(1);
    // Of that tick, the pull from the real agent: some time, and part of the tick.
    const [tick, agents] = await metrics('ebb_controller_last_tick_duration_seconds', 'ebb_controller_last_tick_agents_seconds');
    expect(agents, 'the agents part of the last tick').to.be.greaterThan(0).and.at.most(tick!);
    // 8 in flight at 2 per pod: 4 replicas. Bounds: 30 s and 2,000 requests.
    const load = startLoad(interceptorPort, { concurrency: 8, durationMs: 30_000, maxRequests: 2_000 });
    try {
      const scaledAfterMs = await eventually('burst scaled up', async () => ((await replicas()) > 1 ? Date.now() - load.startedAt : undefined), 20_000, 50);
      expect(Date.now() - controllerStartedAt, 'before the first scheduled tick').to.be.below(TICK_MS);
      expect(await metric('ebb_load_rises_total'), 'the agent told of the rise').to.be.at.least(1);
      console.log(`      scaled ${scaledAfterMs} ms after the burst began (the agent scrapes every second)`);
    } finally {
      load.stop();
    }
  });
});
