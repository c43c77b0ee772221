// The whole loop on a real control plane, with every program real: the controller, the agent (pod
// informer, TokenReview), interceptors and apps on the KWOK pods' loopback IPs. The test plays
// only kube-proxy: it sends a request for the Service to the agent, at the activator port the
// controller gave the Service's port on its activator EndpointSlice.
// A workload serves, goes idle, ebbs to zero behind the activator, and the first request wakes it
// and is answered once; then the leader controller is killed and another takes over.

import { expect } from 'chai';
import { DiscoveryV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event } from '@kubernetes/client-node';
import type http from 'node:http';
import { activatorSliceName } from '../../../src/core/activator-slice.ts';
import { activatorListening, uniqueLoopbackHost } from '../../fixtures/activator.ts';
import { agentTokenFile, optedInNamespace, serviceAccountToken, useCluster } from '../../fixtures/cluster-support.ts';
import { createInjectedWorkload, podPorts, runningPods, startPodProcesses, type PodPorts } from '../../fixtures/pods.ts';
import { agentMetric } from '../../fixtures/agents.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { startController, type ControllerReady } from '../../fixtures/controller.ts';
import { metricOf } from '../../fixtures/metrics.ts';
import { closeServer, freePort, killAll, request, startClusterAgent, type AgentReady, type Started } from '../../fixtures/processes.ts';

const namespace = 'shop';

describe('controller: ebb to zero and wake on the first request, on the real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 1 });
  const servers: http.Server[] = [];
  const controllers: Started<ControllerReady>[] = [];
  let agentActivatorHost = '';
  /** The agent port the controller gave the Service's port `http` while it sleeps. */
  let activatorPort = 0;
  let agentActivity = 0;
  let agent: Started<AgentReady>;
  let controllerToken = '';
  /** The pod template fixes the pod's ports, so every pod of the workload listens on these at its own IP. */
  let ports: PodPorts;
  let pod1: Awaited<ReturnType<typeof startPodProcesses>> | undefined;

  const replicas = async () => (await apps.readNamespacedDeploymentScale({ name: 'web', namespace })).spec?.replicas ?? 0;
  const scaledEvents = async (): Promise<CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=web' })).items.filter(
      (e) => e.reason === 'Scaled' || e.reason === 'ScaledToZero',
    );
  const controllerEnv = {
    EBB_ACTIVATOR_ADDRESSES: '192.0.2.10', // the API server refuses loopback in EndpointSlices; no traffic goes there
    EBB_TICK_MS: '1000',
    EBB_ACTIVATOR_PORTS: '21000-21009',
  };

  before(async () => {
    const kubeConfig = controlPlane().kubeConfig;
    await optedInNamespace(kubeConfig, namespace);
    controllerToken = await serviceAccountToken(kubeConfig, 'ebb-system', 'ebb-controller');
    const agentToken = await agentTokenFile(controlPlane());

    ports = await podPorts();
    await createInjectedWorkload({ core, apps }, namespace, 'web', {
      replicas: 1,
      ports,
      annotations: { 'ebb.dev/idle-after': '3s', 'ebb.dev/min-replicas': '0' },
    });
    const [pod] = await runningPods(core, namespace, 'app=web', 1);
    pod1 = await startPodProcesses(pod!.status!.podIP!, ports, 'shop/web');
    servers.push(pod1.app);

    const controllerPort = await freePort();
    agentActivatorHost = uniqueLoopbackHost();
    agent = await startClusterAgent(controlPlane().kubeconfigPath, controlPlane().nodeNames[0]!, {
      EBB_ACTIVATOR_HOST: agentActivatorHost,
      EBB_TOKEN_FILE: agentToken,
      EBB_CONTROLLER_URL: `http://127.0.0.1:${controllerPort}`,
    });
    controllers.push(
      await startController(controlPlane(), 'controller-a', controllerToken, {
        ...controllerEnv,
        EBB_CONTROLLER_PORT: String(controllerPort),
        EBB_AGENT_URLS: `http://127.0.0.1:${agent.ready.activity}`,
      }),
    );
    agentActivity = agent.ready.activity;
  });

  after(async () => {
    await killAll();
    await Promise.all(servers.splice(0).map(closeServer));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const c of controllers) console.log(c.output.slice(-20).join('\n'));
  });

  it('ebbs the idle workload to zero and routes its Service to the activator', async () => {
    await eventually('web at 0', async () => ((await replicas()) === 0 ? true : undefined), 30_000);
    const discovery = controlPlane().kubeConfig.makeApiClient(DiscoveryV1Api);
    const slice = await eventually('the activator slice', () =>
      discovery.readNamespacedEndpointSlice({ name: activatorSliceName('web'), namespace }).catch(() => undefined),
    );
    expect(slice.ports?.map((port) => port.name)).to.deep.equal(['http']);
    activatorPort = slice.ports?.[0]?.port ?? 0;
    expect(activatorPort).to.be.within(21_000, 21_009);
    await eventually('the agent sees the sleeping Service', async () =>
      (await agentMetric(agentActivity, 'ebb_agent_sleeping_services')) === 1 ? true : undefined,
    );
    await activatorListening(agent, [activatorPort]);
  });

  it('wakes it on the first request, answers that request once, and removes the activator slice', async () => {
    // The first pod is gone: so are its processes (KWOK may give the next pod the same IP).
    pod1?.interceptor.child.kill('SIGKILL');
    for (const server of servers.splice(0)) await closeServer(server);
    const seen: string[] = [];
    const reply = request(activatorPort, '/hello', { 'X-Request-Id': 'wake-me' }, false, undefined, agentActivatorHost);
    const [pod] = await runningPods(core, namespace, 'app=web', 1);
    expect(await replicas()).to.equal(1);
    servers.push((await startPodProcesses(pod!.status!.podIP!, ports, 'shop/web', (req) => seen.push(String(req.headers['x-request-id'])))).app);
    const answer = await reply;
    expect(answer.status, answer.body).to.equal(200);
    expect(seen).to.deep.equal(['wake-me']);
    const wakes = (await scaledEvents()).filter((e) => e.message?.startsWith('0 → 1'));
    expect(wakes, 'one wake-up').to.have.length(1);
    expect(wakes[0]?.count).to.equal(1);
    const discovery = controlPlane().kubeConfig.makeApiClient(DiscoveryV1Api);
    await eventually('the activator slice removed', async () => {
      const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: 'ebb.dev/activator=true' });
      return slices.items.length === 0 ? true : undefined;
    });
  });

  it('fails over to another controller within 20 s when the leader is killed, without double scaling', async () => {
    // Nothing is to change from here on: a scaling action after the takeover would be a double.
    await apps.patchNamespacedDeployment(
      { name: 'web', namespace, body: { metadata: { annotations: { 'ebb.dev/idle-after': '10m', 'ebb.dev/min-replicas': '1' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // The leader decides with the new annotations before the standby starts: three decisions on
    // `web` after the patch (one tick a second), the watch having delivered it within the first.
    const decisionsOf = (c: Started<ControllerReady>) => metricOf(c.ready.port, 'ebb_decisions_total');
    const patchedAt = await decisionsOf(controllers[0]!);
    await eventually('three decisions after the patch', async () => ((await decisionsOf(controllers[0]!)) >= patchedAt + 3 ? true : undefined));
    const standby = await startController(controlPlane(), 'controller-b', controllerToken, {
      ...controllerEnv,
      EBB_AGENT_URLS: `http://127.0.0.1:${agentActivity}`,
    });
    controllers.push(standby);
    const leaderOf = async (c: Started<ControllerReady>) => {
      const metrics = await request(c.ready.port, '/metrics');
      return /^ebb_controller_leader 1$/m.test(metrics.body);
    };
    expect(await leaderOf(controllers[0]!)).to.equal(true);
    expect(await leaderOf(standby)).to.equal(false);
    const eventsBefore = (await scaledEvents()).length;
    const killedAt = Date.now();
    controllers[0]!.child.kill('SIGKILL');
    await eventually('controller-b leads', async () => ((await leaderOf(standby)) ? true : undefined), 25_000);
    const takeoverMs = Date.now() - killedAt;
    console.log(`      takeover after the leader was killed: ${takeoverMs} ms (lease 15 s)`);
    expect(takeoverMs).to.be.below(20_000);
    // Three decisions by the new leader (its first ones, on the one workload) change nothing.
    await eventually('three decisions by the new leader', async () => ((await decisionsOf(standby)) >= 3 ? true : undefined));
    expect((await scaledEvents()).length).to.equal(eventsBefore);
    expect(await replicas()).to.equal(1);
  });
});
