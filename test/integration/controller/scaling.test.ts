// The controller on a real control plane, fed by a real agent scraping real interceptors in front
// of real apps: it scales on load, ebbs idle workloads to zero and routes their Service to the
// activator, holds keep-warm floors, and keeps the last good settings when an annotation is wrong.

import { expect } from 'chai';
import { DiscoveryV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event } from '@kubernetes/client-node';
import type http from 'node:http';
import { activatorSliceName } from '../../../src/core/activator-slice.ts';
import { optedInNamespace, useCluster } from '../../fixtures/cluster-support.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { startController, type ControllerReady } from '../../fixtures/controller.ts';
import { startLoad } from '../../fixtures/load.ts';
import { CONTROLLER_TOKEN, closeServer, killAll, request, startAgent, startApp, startInterceptor, freePort, type Started } from '../../fixtures/processes.ts';

const namespace = 'shop';
const TICK_MS = 2000;

describe('controller: scaling on the real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 1 });
  const servers: http.Server[] = [];
  const interceptorPorts = new Map<string, number>();
  let controller: Started<ControllerReady> | undefined;
  // A failed test shows what the controller said and decided: the decision log is the evidence.
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    if (controller) console.log(controller.output.slice(-30).join('\n'));
    for (const d of (await apps.listNamespacedDeployment({ namespace })).items)
      console.log(d.metadata?.name, d.spec?.replicas, d.metadata?.annotations?.['ebb.dev/status']);
  });

  const deployment = async (name: string, replicas: number, annotations: Record<string, string>) => {
    const labels = { app: name };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, namespace, annotations },
        spec: {
          replicas,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'app:1', ports: [{ name: 'http', containerPort: 8080 }] }] } },
        },
      },
    });
  };
  // The scale subresource omits replicas when it is 0.
  const replicas = async (name: string) => (await apps.readNamespacedDeploymentScale({ name, namespace })).spec?.replicas ?? 0;
  const eventsOf = async (name: string): Promise<CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })).items;

  before(async function () {
    this.timeout(120_000);
    await optedInNamespace(controlPlane().kubeConfig, namespace);

    // A real app and interceptor per workload that has pods; the agent scrapes their admin ports.
    const targets: string[] = [];
    for (const [workload, delayMs] of [
      ['busy', 250],
      ['idle', 0],
    ] as const) {
      const appPort = await freePort();
      servers.push(await startApp(appPort, delayMs));
      const interceptor = await startInterceptor(appPort, { EBB_WORKLOAD: `${namespace}/${workload}` });
      interceptorPorts.set(workload, Number(interceptor.ready.listen.split(':').pop()));
      targets.push(`127.0.0.1:${interceptor.ready.admin}`);
    }
    const agent = await startAgent({ EBB_STATIC_TARGETS: targets.join(','), NODE_NAME: 'kwok-node-0' });

    await deployment('busy', 1, { 'ebb.dev/target-concurrency': '2', 'ebb.dev/scale-down-delay': '5m', 'ebb.dev/idle-after': '10m' });
    await deployment('idle', 1, { 'ebb.dev/idle-after': '4s', 'ebb.dev/min-replicas': '0' });
    await deployment('warm', 0, { 'ebb.dev/keep-warm': '00:00-24:00 UTC replicas=2', 'ebb.dev/min-replicas': '0' });
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'idle' }, spec: { selector: { app: 'idle' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
    });

    controller = await startController(controlPlane(), 'controller-a', CONTROLLER_TOKEN, {
      EBB_AGENT_URLS: `http://127.0.0.1:${agent.ready.activity}`,
      // The API server refuses loopback addresses in EndpointSlices: the slice names a
      // TEST-NET-1 address (documentation range, no traffic goes there).
      EBB_ACTIVATOR_ADDRESSES: '192.0.2.10',
      EBB_TICK_MS: String(TICK_MS),
      EBB_LEASE_DURATION_MS: '3000',
      EBB_LEASE_RENEW_DEADLINE_MS: '2000',
      EBB_LEASE_RETRY_PERIOD_MS: '500',
    });
  });

  after(async () => {
    await killAll();
    await Promise.all(servers.map((server) => closeServer(server)));
  });

  it('holds a keep-warm floor with no traffic at all', async () => {
    await eventually('warm at 2 replicas', async () => ((await replicas('warm')) === 2 ? true : undefined), 20_000);
    // The Event follows the scale write.
    const scaled = await eventually('the Scaled event', async () => (await eventsOf('warm')).find((event) => event.reason === 'Scaled'));
    expect(scaled.message).to.match(/^0 → 2: keep-warm .*00:00-24:00 UTC replicas=2/);
  });

  it('ebbs an idle workload to zero and routes its Service to the activator', async () => {
    await eventually('idle at 0 replicas', async () => ((await replicas('idle')) === 0 ? true : undefined), 30_000);
    const event = await eventually('the ScaledToZero event', async () => (await eventsOf('idle')).find((e) => e.reason === 'ScaledToZero'));
    expect(event.message).to.match(/^1 → 0: no request for \d+s \(idle-after 4s\)$/);
    const discovery = controlPlane().kubeConfig.makeApiClient(DiscoveryV1Api);
    const slice = await eventually('the activator slice', () =>
      discovery.readNamespacedEndpointSlice({ name: activatorSliceName('idle'), namespace }).catch(() => undefined),
    );
    expect(slice.endpoints.map((endpoint) => endpoint.addresses[0])).to.deep.equal(['192.0.2.10']);
    expect(slice.metadata?.annotations?.['ebb.dev/workload']).to.equal('shop/idle');
    const status = JSON.parse((await apps.readNamespacedDeployment({ name: 'idle', namespace })).metadata?.annotations?.['ebb.dev/status'] ?? '{}') as {
      reason?: string;
    };
    expect(status.reason).to.equal('idle');
  });

  it('scales up on load, and follows a doubling of the load within a few ticks', async () => {
    const port = interceptorPorts.get('busy')!;
    // The controller's own counts, from one read of its /metrics: ticks done, and scale writes
    // (busy's alone by now: warm and idle have settled).
    const counts = async () => {
      const text = (await request(controller!.ready.port, '/metrics')).body;
      const value = (series: string) =>
        Number(
          text
            .split('\n')
            .find((line) => line.startsWith(`${series} `))
            ?.split(' ')[1] ?? 0,
        );
      return { ticks: value('ebb_controller_tick_duration_seconds_count'), writes: value('ebb_scale_writes_total{outcome="written"}') };
    };
    // 4 in flight at 2 per pod → 2 replicas; the load lasts 12 s at least (the history the
    // doubling is judged against), and until then (60 s and 2,000 requests are bounds).
    const first = startLoad(port, { concurrency: 4, durationMs: 60_000, maxRequests: 2_000 });
    await eventually(
      'busy at 2, after 12 s of load',
      async () => ((await replicas('busy')) === 2 && Date.now() - first.startedAt >= 12_000 ? true : undefined),
      40_000,
    );
    first.stop();
    await first.done;
    // Doubled: 8 in flight → 4 replicas. The first scale-up must come within two ticks, counted by
    // the controller: the first may have read the agent before it scraped the doubled load, the
    // second cannot have (the agent scrapes every second, the controller ticks every two); the
    // panic window (6 s) then climbs to the full count. The tick that wrote is the one after the
    // last read that did not see the write yet (reads come every 100 ms, ticks every 2 s).
    const atDoubling = await counts();
    const doubledAt = Date.now();
    const second = startLoad(port, { concurrency: 8, durationMs: 60_000, maxRequests: 2_000 });
    let unwritten = atDoubling;
    let reactionTicks: number | undefined;
    let firstReactionMs: number | undefined;
    await eventually(
      'busy at 4',
      async () => {
        if (reactionTicks === undefined) {
          const now = await counts();
          if (now.writes > atDoubling.writes) {
            reactionTicks = unwritten.ticks + 1 - atDoubling.ticks;
            firstReactionMs = Date.now() - doubledAt;
          } else unwritten = now;
        }
        return (await replicas('busy')) === 4 ? true : undefined;
      },
      40_000,
    );
    const fullReactionMs = Date.now() - doubledAt;
    second.stop();
    await second.done;
    console.log(
      `      after a doubling: first scale-up in tick ${reactionTicks} (${firstReactionMs} ms), full count in ${fullReactionMs} ms (tick ${TICK_MS} ms)`,
    );
    expect(reactionTicks, 'ticks after the doubling until the first scale-up').to.be.at.most(2);
    const messages = (await eventsOf('busy')).filter((e) => e.reason === 'Scaled').map((e) => e.message ?? '');
    expect(messages.some((message) => /^2 → \d: .*in flight.*, target 2 per pod$/.test(message))).to.equal(true, messages.join('\n'));
  });

  it('warns about an invalid annotation, naming it, and keeps the last good value', async () => {
    await apps.patchNamespacedDeployment(
      { name: 'busy', namespace, body: { metadata: { annotations: { 'ebb.dev/target-concurrency': 'lots' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const warning = await eventually('a warning event', async () => (await eventsOf('busy')).find((e) => e.reason === 'InvalidSetting'));
    expect(warning.type).to.equal('Warning');
    expect(warning.message).to.include('ebb.dev/target-concurrency');
    expect(warning.message).to.include('"lots"');
    expect(warning.message).to.include('keeping the last valid value');
    // Still 4 replicas for the same load would need target 2: the replica count must not jump to
    // what the default target (10) would give once the load is gone; the scale-down delay holds it.
    expect(await replicas('busy')).to.equal(4);
  });
});
