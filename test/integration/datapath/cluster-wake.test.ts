// The wake path end to end on a real control plane. The test plays two parts it cannot borrow:
// kube-proxy (it sends the request for a Service port to the agent at the activator port the
// slice gives that Service port) and the controller (a small HTTP server that checks the agent's
// token with the real TokenReview and scales the Deployment through the real scale subresource).
// Everything else is real: the activator EndpointSlice as the controller writes it
// (src/core/activator-slice.ts, kept by src/kube/activator-slices.ts; its endpoints are TEST-NET-1
// addresses because the API server refuses loopback ones, and no traffic goes to them), the
// ReplicaSet controller, the scheduler, KWOK running the pod on a loopback IP, and the app and
// interceptor processes on that IP. The agent's activator listens on a loopback address of its own.

import { expect } from 'chai';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { AuthenticationV1Api, type V1Service } from '@kubernetes/client-node';
import { eventually } from '../../fixtures/control-plane.ts';
import { activatorSlice } from '../../../src/core/activator-slice.ts';
import { ActivatorSlices } from '../../../src/kube/activator-slices.ts';
import { INTERCEPTOR_READY_PATH } from '../../../src/protocol/sidecar.ts';
import { authorizeRequest, TokenReviewVerifier } from '../../../src/protocol/auth.ts';
import { isWakeRequest, type WakeRequest } from '../../../src/protocol/wake.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import { agentTokenFile, ebbNamespaces, useCluster } from '../../fixtures/cluster-support.ts';
import { createInjectedWorkload, podPorts, runningPods, startPodProcesses, type PodPorts } from '../../fixtures/pods.ts';
import { agentMetric } from '../../fixtures/agents.ts';
import { activatorListening, uniqueLoopbackHost } from '../../fixtures/activator.ts';
import { closeServer, request, startClusterAgent, type Reply } from '../../fixtures/processes.ts';
import { useServers } from '../../fixtures/suite.ts';

const namespace = 'shop';

describe('activator wake path on a real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 2 });
  const servers = useServers('all');
  let agentToken: string;
  /** Wake requests the stand-in controller accepted as authentic, in arrival order. */
  const wakes: WakeRequest[] = [];
  /** The workloads the stand-in controller scales up; any other is declined (as if paused). */
  const scalable = new Set<WorkloadKey>();
  let controllerUrl: string;

  before(async () => {
    const kubeConfig = controlPlane().kubeConfig;
    await ebbNamespaces(kubeConfig, namespace);
    agentToken = await agentTokenFile(controlPlane());

    const verifier = new TokenReviewVerifier(kubeConfig.makeApiClient(AuthenticationV1Api));
    const controller = http.createServer((req, res) => {
      const answer = (status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        void (async () => {
          const decision = await authorizeRequest(req, verifier, 'system:serviceaccount:ebb-system:ebb-agent');
          if (decision.status !== 200) return answer(decision.status, { accepted: false, reason: decision.message });
          const body: unknown = JSON.parse(text);
          if (!isWakeRequest(body)) return answer(400, { accepted: false, reason: 'not a wake request' });
          wakes.push(body);
          if (!scalable.has(body.workload)) return answer(200, { accepted: false, reason: 'paused' });
          const [ns, name] = body.workload.split('/') as [string, string];
          await apps.replaceNamespacedDeploymentScale({ name, namespace: ns, body: { metadata: { name, namespace: ns }, spec: { replicas: 1 } } });
          answer(200, { accepted: true });
        })().catch((error: unknown) => answer(500, { accepted: false, reason: String(error) }));
      });
    });
    controller.listen(0, '127.0.0.1');
    await once(controller, 'listening');
    servers.push(controller);
    controllerUrl = `http://127.0.0.1:${(controller.address() as AddressInfo).port}`;
  });

  /**
   * A Service (targetPort by name, as ebb asks) and its Deployment at zero, asleep behind the
   * activator: the Service's port `http` has the agents' port `activatorPort`.
   */
  async function sleepingWorkload(name: string, ports: PodPorts, activatorPort: number): Promise<V1Service> {
    const service = await createInjectedWorkload({ core, apps }, namespace, name, { replicas: 0, ports });
    const [here, there] = controlPlane().nodeNames;
    const agents = [
      { ip: '192.0.2.10', nodeName: here },
      { ip: '192.0.2.11', nodeName: there },
    ];
    await new ActivatorSlices(controlPlane().kubeConfig).ensure(activatorSlice(service, `${namespace}/${name}`, agents, new Map([['http', activatorPort]])));
    return service;
  }

  /** An agent whose activator listens on its own loopback address, on the ports of the sleeping Services. */
  async function agentServing(activatorPorts: readonly number[], env: Record<string, string>) {
    const host = uniqueLoopbackHost();
    const agent = await startClusterAgent(controlPlane().kubeconfigPath, controlPlane().nodeNames[0]!, {
      EBB_CONTROLLER_URL: controllerUrl,
      EBB_TOKEN_FILE: agentToken,
      EBB_ACTIVATOR_HOST: host,
      ...env,
    });
    await activatorListening(agent, activatorPorts);
    return { ...agent, send: (port: number, path: string, headers: Record<string, string>) => request(port, path, headers, false, undefined, host) };
  }

  const replicasOf = async (name: string) => (await apps.readNamespacedDeploymentScale({ name, namespace })).spec?.replicas ?? 0;

  it('holds a request for a Service at zero, wakes it once, and answers it once the pod really serves', async () => {
    const ports = await podPorts();
    await sleepingWorkload('web', ports, 20_001);
    scalable.add('shop/web');
    const agent = await agentServing([20_001], { EBB_HOLD_DEADLINE_MS: '60000' });

    let answered: Reply | undefined;
    const reply = agent.send(20_001, '/hello', { 'X-Request-Id': 'first' }).then((r) => (answered = r));
    const [pod] = await runningPods(core, namespace, 'app=web', 1);
    const podIP = pod!.status!.podIP!;
    expect(podIP).to.match(/^127\.10\.\d+\.\d+$/);
    expect(wakes.filter((w) => w.workload === 'shop/web')).to.deep.equal([
      { workload: 'shop/web', service: { namespace, name: 'web' }, node: controlPlane().nodeNames[0], held: 1 },
    ]);

    // KWOK reports the pod Ready at once. Its interceptor says it is not (yet): once the agent has
    // asked it twice, the request must still be held.
    let probes = 0;
    const notReady = http.createServer((req, res) => {
      if (req.url === INTERCEPTOR_READY_PATH) probes += 1;
      res.writeHead(503).end();
    });
    notReady.listen(ports.admin, podIP);
    await once(notReady, 'listening');
    await eventually('the agent asking the pod’s interceptor whether it is ready', () => (probes >= 2 ? true : undefined));
    expect(answered, 'answered before the pod could serve').to.equal(undefined);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_held_requests{workload="shop/web"}')).to.equal(1);
    await closeServer(notReady);

    const seen: string[] = [];
    await startPodProcesses(podIP, ports, 'shop/web', (req) => seen.push(String(req.headers['x-request-id']))).then(({ app }) => servers.push(app));
    const answer = await reply;
    expect(answer.status, answer.body).to.equal(200);
    expect(answer.body).to.equal('ok first');
    expect(seen).to.deep.equal(['first']);
    expect(wakes.filter((w) => w.workload === 'shop/web')).to.have.length(1);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_wake_requests_total{outcome="accepted"}')).to.equal(1);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_held_requests{workload="shop/web"}')).to.equal(undefined);
  });

  it('answers 503 with Retry-After at the hold deadline when no pod ever becomes ready', async () => {
    await sleepingWorkload('idle', await podPorts(), 20_002);
    const agent = await agentServing([20_001, 20_002], { EBB_HOLD_DEADLINE_MS: '1500' });

    const answer = await agent.send(20_002, '/', {});
    expect(answer.status, answer.body).to.equal(503);
    expect(answer.headers['retry-after']).to.equal('1');
    expect(answer.body).to.match(/shop\/idle did not become ready within the hold deadline/);
    expect(wakes.filter((w) => w.workload === 'shop/idle')).to.have.length(1);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_wake_requests_total{outcome="declined"}')).to.equal(1);
    expect(await replicasOf('idle'), 'replicas (the API omits a zero)').to.equal(0);
  });

  it('serves a request only to the Service whose port it reached: naming another in Host and X-Ebb-Workload wakes and reaches nothing of it', async () => {
    const [alphaPorts, betaPorts] = [await podPorts(), await podPorts()];
    await sleepingWorkload('alpha', alphaPorts, 20_003);
    await sleepingWorkload('beta', betaPorts, 20_004);
    scalable.add('shop/alpha');
    scalable.add('shop/beta');
    const agent = await agentServing([20_003, 20_004], { EBB_HOLD_DEADLINE_MS: '60000' });

    const reply = agent.send(20_003, '/account', { Host: 'beta.shop.svc.cluster.local', 'X-Ebb-Workload': 'shop/beta', 'X-Request-Id': 'for-beta?' });
    const [pod] = await runningPods(core, namespace, 'app=alpha', 1);
    const seen: string[] = [];
    await startPodProcesses(pod!.status!.podIP!, alphaPorts, 'shop/alpha', (req) => seen.push(`${req.headers.host} ${req.url}`)).then(({ app }) =>
      servers.push(app),
    );
    const answer = await reply;
    expect(answer.status, answer.body).to.equal(200);
    expect(answer.body).to.equal('ok for-beta?');
    expect(seen, 'alpha’s app got it, with the Host the client wrote').to.deep.equal(['beta.shop.svc.cluster.local /account']);

    // The wake-up is asked for when the request is held, before it is forwarded: by now a wake-up
    // for beta would have been asked for too.
    expect(wakes.filter((w) => w.workload === 'shop/alpha').map((w) => w.service)).to.deep.equal([{ namespace, name: 'alpha' }]);
    expect(wakes.filter((w) => w.workload === 'shop/beta')).to.deep.equal([]);
    expect(await replicasOf('beta')).to.equal(0);
    expect((await core.listNamespacedPod({ namespace, labelSelector: 'app=beta' })).items).to.deep.equal([]);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_held_requests{workload="shop/beta"}')).to.equal(undefined);
  });
});
