// Traffic ebb cannot see, on a real control plane with the real controller, a real agent and a real
// interceptor: the podinfo shape (a container port `http` 9898 and a Service with `targetPort:
// 9898`, which reaches the app around the interceptor) is warned about, said in the status, and
// never put to sleep for an idleness ebb cannot observe; once the Service targets the name, the
// warning clears and the workload ebbs to zero. A Deployment with no container port is warned about.

import { expect } from 'chai';
import { PatchStrategy, setHeaderOptions, type CoreV1Event, type V1ContainerPort } from '@kubernetes/client-node';
import type http from 'node:http';
import { STATUS_ANNOTATION } from '../../../src/core/annotations.ts';
import { optedInNamespace, useCluster } from '../../fixtures/cluster-support.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { startController, type ControllerReady } from '../../fixtures/controller.ts';
import { CONTROLLER_TOKEN, closeServer, freePort, killAll, request, startAgent, startApp, startInterceptor, type Started } from '../../fixtures/processes.ts';

const namespace = 'shop';
const TICK_MS = 2000;
const IDLE_AFTER_MS = 4000;
const BYPASS = "Service shop/podinfo targets port 9898 by number, which bypasses ebb's interceptor: set targetPort: http (the port's name)";
const NO_PORT = 'no container port to intercept: add a named containerPort (e.g. http) to the container that serves HTTP';
const KEPT_UP = '; until ebb sees this traffic, it keeps at least one replica';

interface Status {
  desiredReplicas?: number | null;
  reason?: string;
  message?: string;
  traffic?: string;
}

describe('controller: traffic ebb cannot see, on the real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 1 });
  let controller: Started<ControllerReady> | undefined;
  let app: http.Server | undefined;
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    if (controller) console.log(controller.output.slice(-30).join('\n'));
    for (const d of (await apps.listNamespacedDeployment({ namespace })).items)
      console.log(d.metadata?.name, d.spec?.replicas, d.metadata?.annotations?.[STATUS_ANNOTATION]);
  });

  const deployment = async (name: string, ports: V1ContainerPort[] | undefined) => {
    const labels = { app: name };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, namespace, annotations: { 'ebb.dev/idle-after': `${IDLE_AFTER_MS / 1000}s`, 'ebb.dev/min-replicas': '0' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'app:1', ports }] } },
        },
      },
    });
  };
  // The scale subresource omits replicas when it is 0.
  const replicas = async (name: string) => (await apps.readNamespacedDeploymentScale({ name, namespace })).spec?.replicas ?? 0;
  const statusOf = async (name: string): Promise<Status> =>
    JSON.parse((await apps.readNamespacedDeployment({ name, namespace })).metadata?.annotations?.[STATUS_ANNOTATION] ?? '{}') as Status;
  const eventsOf = async (name: string): Promise<CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })).items;
  /** The TrafficNotObserved warning on the Deployment, once it is there: its message. */
  const trafficWarning = async (name: string): Promise<string | undefined> => {
    const warning = await eventually('the TrafficNotObserved event', async () => (await eventsOf(name)).find((e) => e.reason === 'TrafficNotObserved'));
    expect(warning.type).to.equal('Warning');
    return warning.message;
  };
  const decisions = async (reason: string): Promise<number> => {
    const series = `ebb_decisions_total{reason="${reason}"} `;
    const line = (await request(controller!.ready.port, '/metrics')).body.split('\n').find((l) => l.startsWith(series));
    return line === undefined ? 0 : Number(line.slice(series.length));
  };

  before(async function () {
    this.timeout(120_000);
    await optedInNamespace(controlPlane().kubeConfig, namespace);

    // podinfo's pod has the interceptor (its port has a name to take over): the agent reports the
    // workload, with nothing in flight, so without the warning it would look idle and ebb to zero.
    // The Service's traffic would go to 9898 around it, which ebb never sees.
    const appPort = await freePort();
    app = await startApp(appPort, 0);
    const interceptor = await startInterceptor(appPort, { EBB_WORKLOAD: `${namespace}/podinfo` });
    const agent = await startAgent({ EBB_STATIC_TARGETS: `127.0.0.1:${interceptor.ready.admin}`, NODE_NAME: 'kwok-node-0' });

    await deployment('podinfo', [{ name: 'http', containerPort: 9898, protocol: 'TCP' }]);
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'podinfo' }, spec: { selector: { app: 'podinfo' }, ports: [{ name: 'http', port: 9898, targetPort: 9898 }] } },
    });
    // No container port: the webhook adds no interceptor, so no agent ever reports it.
    await deployment('portless', undefined);

    controller = await startController(controlPlane(), 'controller-a', CONTROLLER_TOKEN, {
      EBB_AGENT_URLS: `http://127.0.0.1:${agent.ready.activity}`,
      // The API server refuses loopback addresses in EndpointSlices: the activator slice names a
      // TEST-NET-1 address (documentation range, no traffic goes there).
      EBB_ACTIVATOR_ADDRESSES: '192.0.2.10',
      EBB_TICK_MS: String(TICK_MS),
    });
  });

  after(async () => {
    await killAll();
    await closeServer(app);
  });

  it('warns about a Service that targets the port by number, says so in the status, and keeps the workload up past idle-after', async () => {
    expect(await trafficWarning('podinfo')).to.equal(BYPASS + KEPT_UP);

    // The decider holds it for the traffic it cannot see once idle-after has passed: the status says so.
    const held = await eventually(
      'the unobserved decision in the status',
      async () => {
        const status = await statusOf('podinfo');
        return status.reason === 'unobserved' ? status : undefined;
      },
      30_000,
    );
    expect(held.traffic).to.equal(`not observed: ${BYPASS}`);
    expect(held.desiredReplicas).to.equal(1);
    expect(held.message).to.match(/^holding 1: ebb does not see all of its traffic, so it is never idle/);
    // Well past idle-after: five more decisions held it (every tick decides; 10 s > 2 × idle-after).
    const heldSoFar = await decisions('unobserved');
    await eventually('five more unobserved decisions', async () => ((await decisions('unobserved')) >= heldSoFar + 5 ? true : undefined), 30_000);
    expect(await replicas('podinfo')).to.equal(1);
    expect((await eventsOf('podinfo')).map((e) => e.reason)).to.not.include('ScaledToZero');
    expect((await eventsOf('podinfo')).filter((e) => e.reason === 'TrafficNotObserved').map((e) => e.count)).to.deep.equal([1]);
  });

  it('clears the warning once the Service targets the port by name, and lets the workload ebb to zero', async () => {
    await core.patchNamespacedService(
      { name: 'podinfo', namespace, body: { spec: { ports: [{ name: 'http', port: 9898, targetPort: 'http' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually('traffic observed in the status', async () => ((await statusOf('podinfo')).traffic === 'observed' ? true : undefined), 30_000);
    await eventually('podinfo at 0 replicas', async () => ((await replicas('podinfo')) === 0 ? true : undefined), 30_000);
    const event = await eventually('the ScaledToZero event', async () => (await eventsOf('podinfo')).find((e) => e.reason === 'ScaledToZero'));
    expect(event.message).to.match(/^1 → 0: no request for \d+s \(idle-after 4s\)$/);
  });

  it('warns about a Deployment with no container port, and says so in the status', async () => {
    expect(await trafficWarning('portless')).to.equal(NO_PORT + KEPT_UP);
    const status = await eventually('the status', async () => {
      const written = await statusOf('portless');
      return written.traffic === undefined ? undefined : written;
    });
    expect(status.traffic).to.equal(`not observed: ${NO_PORT}`);
    expect(await replicas('portless')).to.equal(1);
  });
});
