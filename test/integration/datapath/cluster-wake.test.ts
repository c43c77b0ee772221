// The wake path end to end on a real control plane. The test plays two parts it cannot borrow:
// kube-proxy (it sends the request for the Service straight to the agent's activator port) and
// the controller (a small HTTP server that checks the agent's token with the real TokenReview and
// scales the Deployment through the real scale subresource). Everything else is real: the
// activator EndpointSlice as the controller writes it (src/core/activator-slice.ts, kept by
// src/kube/activator-slices.ts; its endpoints are TEST-NET-1 addresses because the API server
// refuses loopback ones, and no traffic goes to them), the ReplicaSet controller, the scheduler,
// KWOK running the pod on a loopback IP, and the app and interceptor processes on that IP.

import { expect } from 'chai';
import http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, AuthenticationV1Api, CoreV1Api, type V1Service } from '@kubernetes/client-node';
import { useControlPlane } from '../../fixtures/control-plane.ts';
import { activatorSlice } from '../../../src/core/activator-slice.ts';
import { ActivatorSlices } from '../../../src/kube/activator-slices.ts';
import { DEFAULT_ACTIVATOR_PORT } from '../../../src/protocol/activator.ts';
import { AGENT_IDENTITY, authorizeRequest, TokenReviewVerifier } from '../../../src/protocol/auth.ts';
import { isWakeRequest, type WakeRequest } from '../../../src/protocol/wake.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import { agentMetric, createNamespace, injectedPodTemplate, podPorts, runningPods, serviceAccountToken, startPodProcesses, type PodPorts } from '../../fixtures/cluster-support.ts';
import { closeServer, killAll, request, startClusterAgent, type Reply } from '../../fixtures/processes.ts';

const namespace = 'shop';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('activator wake path on a real control plane', function () {
  this.timeout(120_000);
  const controlPlane = useControlPlane({ nodes: 2 });
  const servers: http.Server[] = [];
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let tokenDir: string;
  /** Wake requests the stand-in controller accepted as authentic, in arrival order. */
  const wakes: WakeRequest[] = [];
  /** The workloads the stand-in controller scales up; any other is declined (as if paused). */
  const scalable = new Set<WorkloadKey>();
  let controllerUrl: string;

  before(async () => {
    const kubeConfig = controlPlane().kubeConfig;
    core = kubeConfig.makeApiClient(CoreV1Api);
    apps = kubeConfig.makeApiClient(AppsV1Api);
    await createNamespace(core, namespace);
    await createNamespace(core, 'ebb-system');
    tokenDir = mkdtempSync(join(tmpdir(), 'ebb-agent-token-'));
    writeFileSync(join(tokenDir, 'token'), await serviceAccountToken(kubeConfig, 'ebb-system', 'ebb-agent'));

    const verifier = new TokenReviewVerifier(kubeConfig.makeApiClient(AuthenticationV1Api));
    const controller = http.createServer((req, res) => {
      const answer = (status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        void (async () => {
          const decision = await authorizeRequest(req, verifier, AGENT_IDENTITY);
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
  after(async () => {
    await killAll();
    await Promise.all(servers.splice(0).map(closeServer));
    rmSync(tokenDir, { recursive: true, force: true });
  });

  /** A Service (targetPort by name, as ebb asks) and its Deployment at zero, asleep behind the activator. */
  async function sleepingWorkload(name: string, ports: PodPorts): Promise<V1Service> {
    const labels = { app: name };
    const service = await core.createNamespacedService({
      namespace,
      body: { metadata: { name }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
    });
    const template = injectedPodTemplate(labels, ports);
    await apps.createNamespacedDeployment({ namespace, body: { metadata: { name }, spec: { replicas: 0, selector: { matchLabels: labels }, template } } });
    const [here, there] = controlPlane().nodeNames;
    const agents = [
      { ip: '192.0.2.10', nodeName: here },
      { ip: '192.0.2.11', nodeName: there },
    ];
    await new ActivatorSlices(controlPlane().kubeConfig).ensure(activatorSlice(service, `${namespace}/${name}`, agents, DEFAULT_ACTIVATOR_PORT));
    return service;
  }

  async function agentServing(sleepingServices: number, env: Record<string, string>) {
    const agent = await startClusterAgent(controlPlane().kubeconfigPath, controlPlane().nodeNames[0]!, { EBB_CONTROLLER_URL: controllerUrl, EBB_TOKEN_FILE: join(tokenDir, 'token'), ...env });
    const deadline = performance.now() + 15_000;
    while ((await agentMetric(agent.ready.activity, 'ebb_agent_sleeping_services')) !== sleepingServices) {
      if (performance.now() > deadline) throw new Error(`the agent never saw ${sleepingServices} sleeping Service(s):\n${agent.output.join('\n')}`);
      await sleep(50);
    }
    return agent;
  }

  it('holds a request for a Service at zero, wakes it once, and answers it once the pod really serves', async () => {
    const ports = await podPorts();
    await sleepingWorkload('web', ports);
    scalable.add('shop/web');
    const agent = await agentServing(1, { EBB_HOLD_DEADLINE_MS: '60000' });

    let answered: Reply | undefined;
    const reply = request(agent.ready.activator, '/hello', { Host: 'web.shop', 'X-Request-Id': 'first' }).then((r) => (answered = r));
    const [pod] = await runningPods(core, namespace, 'app=web', 1);
    const podIP = pod!.status!.podIP!;
    expect(podIP).to.match(/^127\.10\.\d+\.\d+$/);
    expect(wakes.filter((w) => w.workload === 'shop/web')).to.deep.equal([{ workload: 'shop/web', service: { namespace, name: 'web' }, node: controlPlane().nodeNames[0], held: 1 }]);

    // KWOK reports the pod Ready at once; nothing listens on its IP yet, so the request stays held.
    await sleep(1_500);
    expect(answered, 'answered before the pod could serve').to.equal(undefined);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_held_requests{workload="shop/web"}')).to.equal(1);

    const seen: string[] = [];
    await startPodProcesses(podIP, ports, 'shop/web', (req) => seen.push(String(req.headers['x-request-id']))).then(({ app }) => servers.push(app));
    const answer = await reply;
    expect(answer.status, answer.body).to.equal(200);
    expect(answer.body).to.equal('ok first');
    await sleep(500);
    expect(seen).to.deep.equal(['first']);
    expect(wakes.filter((w) => w.workload === 'shop/web')).to.have.length(1);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_wake_requests_total{outcome="accepted"}')).to.equal(1);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_held_requests{workload="shop/web"}')).to.equal(undefined);
  });

  it('answers 503 with Retry-After at the hold deadline when no pod ever becomes ready', async () => {
    await sleepingWorkload('idle', await podPorts());
    const agent = await agentServing(2, { EBB_HOLD_DEADLINE_MS: '1500' });

    const started = performance.now();
    const answer = await request(agent.ready.activator, '/', { Host: 'idle.shop' });
    expect(answer.status, answer.body).to.equal(503);
    expect(answer.headers['retry-after']).to.equal('1');
    expect(answer.body).to.match(/shop\/idle did not become ready within the hold deadline/);
    expect(performance.now() - started).to.be.within(1_400, 4_000);
    expect(wakes.filter((w) => w.workload === 'shop/idle')).to.have.length(1);
    expect(await agentMetric(agent.ready.activity, 'ebb_agent_wake_requests_total{outcome="declined"}')).to.equal(1);
    const scale = await apps.readNamespacedDeploymentScale({ name: 'idle', namespace });
    expect(scale.spec?.replicas ?? 0, 'replicas (the API omits a zero)').to.equal(0);
  });
});
