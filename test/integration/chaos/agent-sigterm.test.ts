// Chaos on the activator: an agent that holds requests for a workload asleep at zero is told to
// stop (SIGTERM, as when its DaemonSet pod is replaced or its node drained) while steady load
// keeps coming. Every program is real: the controller (leader) that put the workloads to sleep
// behind the activator and wakes them, two agents (one per KWOK node, each on a loopback address of
// its own), and the app and interceptor on the woken pod's loopback IP. The test plays kube-proxy:
// a sleeping Service's port goes to an agent, and once an agent is terminating, to the other one
// (kube-proxy drops a terminating endpoint while another is ready).
//
// Each held request must get exactly one answer: forwarded when the woken pod serves within the
// agent's drain, else 503 with Retry-After when the drain ends; the clients' next requests go to
// the other agent, which forwards them once the pod serves.

import { expect } from 'chai';
import { once } from 'node:events';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { activatorSliceName } from '../../../src/core/activator-slice.ts';
import { activatorListening, uniqueLoopbackHost } from '../../fixtures/activator.ts';
import { agentTokenFile, optedInNamespace, serviceAccountToken, useCluster } from '../../fixtures/cluster-support.ts';
import { createInjectedWorkload, podPorts, runningPods, startPodProcesses, type PodPorts } from '../../fixtures/pods.ts';
import { agentMetric } from '../../fixtures/agents.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { startController, type ControllerReady } from '../../fixtures/controller.ts';
import { startLoad, type LoadTarget, type RunningLoad } from '../../fixtures/load.ts';
import { closeServer, freePort, killAll, startClusterAgent, type AgentReady, type Started } from '../../fixtures/processes.ts';
import { clientFigures, describeFailures, recordScenario, scaleWrites } from './chaos-support.ts';
import type http from 'node:http';

const namespace = 'shop';
const CLIENTS = 6;
/** Answers through the other agent after the SIGTERM: the load goes on. */
const AFTERWARDS = 150;
const ACTIVATOR_PORTS = '21400-21409';

interface Agent {
  name: string;
  host: string;
  process: Started<AgentReady>;
}

/** kube-proxy for one sleeping Service port: to the first agent that is not terminating. */
class ActivatorRoute {
  readonly terminating = new Set<string>();
  readonly picks = new Map<string, number>();
  /** Answers by agent and status ('503+RA' for a 503 with Retry-After). */
  readonly answers = new Map<string, Map<string, number>>();

  constructor(
    private readonly agents: readonly Agent[],
    private readonly port: number,
  ) {}

  readonly target = (): LoadTarget => {
    const agent = this.agents.find((candidate) => !this.terminating.has(candidate.name)) ?? this.agents.at(-1)!;
    this.picks.set(agent.name, (this.picks.get(agent.name) ?? 0) + 1);
    return {
      host: agent.host,
      port: this.port,
      done: (status) => {
        const byStatus = this.answers.get(agent.name) ?? new Map<string, number>();
        const key = status === undefined ? 'failed' : String(status);
        byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
        this.answers.set(agent.name, byStatus);
      },
    };
  };

  answered(agent: string, status: string): number {
    return this.answers.get(agent)?.get(status) ?? 0;
  }
}

describe('chaos: an agent holding requests gets SIGTERM, under load', function () {
  this.timeout(180_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 2 });
  let controller: Started<ControllerReady>;
  let agentToken = '';
  let controllerUrl = '';
  /** The agent on node 0 (replaced after each SIGTERM, on the same activity port) and the one on node 1. */
  let nodeAgent: Agent;
  let otherAgent: Agent;
  let activityPort = 0;
  const ports = new Map<string, PodPorts>();
  const activatorPort = new Map<string, number>();
  const servers: http.Server[] = [];
  let load: RunningLoad | undefined;

  const startAgent = async (name: string, node: number, env: Record<string, string>): Promise<Agent> => {
    const host = uniqueLoopbackHost();
    const started = await startClusterAgent(controlPlane().kubeconfigPath, controlPlane().nodeNames[node]!, {
      EBB_ACTIVATOR_HOST: host,
      EBB_TOKEN_FILE: agentToken,
      EBB_CONTROLLER_URL: controllerUrl,
      ...env,
    });
    return { name, host, process: started };
  };
  const held = async (agent: Agent, workload: string) =>
    (await agentMetric(agent.process.ready.activity, `ebb_agent_held_requests{workload="${namespace}/${workload}"}`)) ?? 0;
  const sleepingWorkload = async (name: string) => {
    ports.set(name, await podPorts());
    await createInjectedWorkload({ core, apps }, namespace, name, {
      replicas: 0,
      ports: ports.get(name)!,
      annotations: { 'ebb.dev/min-replicas': '0', 'ebb.dev/idle-after': '10m' },
    });
  };

  before(async function () {
    this.timeout(120_000);
    const kubeConfig = controlPlane().kubeConfig;
    await optedInNamespace(kubeConfig, namespace);
    const controllerToken = await serviceAccountToken(kubeConfig, 'ebb-system', 'ebb-controller');
    agentToken = await agentTokenFile(controlPlane());
    await sleepingWorkload('sleepy');
    await sleepingWorkload('drowsy');

    const controllerPort = await freePort();
    controllerUrl = `http://127.0.0.1:${controllerPort}`;
    nodeAgent = await startAgent('agent-0', 0, { EBB_ACTIVATOR_DRAIN_MS: '15000' });
    activityPort = nodeAgent.process.ready.activity;
    otherAgent = await startAgent('agent-1', 1, {});
    controller = await startController(controlPlane(), 'controller-a', controllerToken, {
      EBB_CONTROLLER_PORT: String(controllerPort),
      EBB_AGENT_URLS: [nodeAgent, otherAgent].map((agent) => `http://127.0.0.1:${agent.process.ready.activity}`).join(','),
      EBB_ACTIVATOR_ADDRESSES: '192.0.2.10', // the API server refuses loopback in EndpointSlices; no traffic goes there
      EBB_ACTIVATOR_PORTS: ACTIVATOR_PORTS,
      EBB_TICK_MS: '1000',
    });
    // The controller routes both Services, at zero, to the activator: one agent port each.
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    for (const name of ['sleepy', 'drowsy']) {
      const slice = await eventually(`the activator slice of ${name}`, () =>
        discovery.readNamespacedEndpointSlice({ name: activatorSliceName(name), namespace }).catch(() => undefined),
      );
      activatorPort.set(name, slice.ports?.[0]?.port ?? 0);
    }
    for (const agent of [nodeAgent, otherAgent]) await activatorListening(agent.process, [...activatorPort.values()]);
  });

  after(async () => {
    load?.stop();
    await load?.done;
    await killAll();
    await Promise.all(servers.splice(0).map(closeServer));
  });

  afterEach(async function () {
    load?.stop();
    await load?.done;
    if (this.currentTest?.state !== 'failed') return;
    console.log(`--- controller\n${controller.output.slice(-25).join('\n')}`);
    for (const agent of [nodeAgent, otherAgent]) console.log(`--- ${agent.name}\n${agent.process.output.slice(-20).join('\n')}`);
  });

  /** Sends the load at the sleeping Service until the agent on node 0 holds every client's request. */
  async function holdAtNodeAgent(workload: string) {
    const route = new ActivatorRoute([nodeAgent, otherAgent], activatorPort.get(workload)!);
    load = startLoad(0, { concurrency: CLIENTS, durationMs: 90_000, maxRequests: 3_000, target: route.target });
    await eventually(
      `${nodeAgent.name} holding all ${CLIENTS} requests for ${workload}`,
      async () => ((await held(nodeAgent, workload)) === CLIENTS && route.picks.get(nodeAgent.name) === CLIENTS ? true : undefined),
      20_000,
    );
    // The agent asked the controller to wake the workload; it is scaled once, and KWOK runs its pod.
    const [pod] = await runningPods(core, namespace, `app=${workload}`, 1);
    return { route, load, podIP: pod!.status!.podIP! };
  }

  /** kube-proxy drops the agent, then it is told to stop; resolves once it says it drains, with its exit to come. */
  async function terminate(agent: Agent, route: ActivatorRoute): Promise<{ exited: Promise<unknown[]> }> {
    route.terminating.add(agent.name);
    const exited = once(agent.process.child, 'exit');
    agent.process.child.kill('SIGTERM');
    // Draining, by its log; or gone already (then what it held shows in the clients' figures).
    const gone = () => agent.process.child.exitCode !== null || agent.process.child.signalCode !== null;
    await eventually(
      `${agent.name} draining`,
      () => (gone() || agent.process.output.some((line) => line.includes('"msg":"draining"')) ? true : undefined),
      10_000,
    );
    return { exited };
  }

  /**
   * Once the clients' next requests are answered through the other agent: the load stopped, and
   * the scenario recorded with the scale writes since `writesBefore` (both expect the one wake-up).
   */
  async function finishScenario(
    scenario: string,
    run: { route: ActivatorRoute; running: RunningLoad; startedAt: number; writesBefore: number },
    details: () => Record<string, number | string>,
  ) {
    await eventually(
      `${AFTERWARDS} answers through ${otherAgent.name}`,
      () => (run.route.answered(otherAgent.name, '200') >= AFTERWARDS ? true : undefined),
      30_000,
    );
    run.running.stop();
    const result = await run.running.done;
    const writes = (await scaleWrites(controller.ready.port)) - run.writesBefore;
    const figures = recordScenario({
      scenario,
      loads: [result],
      scaleWrites: writes,
      expectedWrites: '1: the wake-up 0 → 1',
      startedAt: run.startedAt,
      details: details(),
    });
    return { result, figures, writes };
  }

  // Fails if: the agent drops held requests or exits before answering them (a reset or hang-up
  // counts as failed), answers a held request twice or not at all, does not forward once the pod
  // serves, does not exit 0; the workload is scaled more than once.
  it('(c) SIGTERMs an agent holding requests; the woken pod serves within the drain: every held request is forwarded, none dropped', async () => {
    const startedAt = Date.now();
    const writesBefore = await scaleWrites(controller.ready.port);
    const { route, load: running, podIP } = await holdAtNodeAgent('sleepy');
    const { exited } = await terminate(nodeAgent, route);
    const heldAtSigterm = route.picks.get(nodeAgent.name)!;

    // The pod serves (its processes start) while the agent drains: the agent forwards what it holds.
    const drainStarted = Date.now();
    servers.push((await startPodProcesses(podIP, ports.get('sleepy')!, `${namespace}/sleepy`, undefined, 50)).app);
    expect(await exited, 'the agent exits 0 after its drain').to.deep.equal([0, null]);
    const drainMs = Date.now() - drainStarted;
    expect(clientFigures(running.live).failed, `the held requests: ${describeFailures(running.live)}`).to.equal(0);
    // The clients went on, to the other agent, which forwards to the pod.
    const { result, figures, writes } = await finishScenario(
      '(c) agent SIGTERM, pod ready within the drain',
      { route, running, startedAt, writesBefore },
      () => ({
        'held at SIGTERM': heldAtSigterm,
        'forwarded by the draining agent': route.answered(nodeAgent.name, '200'),
        'agent exited after': `${(drainMs / 1000).toFixed(1)} s (drain 15 s)`,
        'then through the other agent': route.answered(otherAgent.name, '200'),
      }),
    );
    expect(figures.failed, describeFailures(result)).to.equal(0);
    expect(figures.ok).to.equal(result.sent);
    expect(Object.fromEntries(route.answers.get(nodeAgent.name) ?? []), 'the held requests, each answered once').to.deep.equal({ 200: heldAtSigterm });
    expect(writes, 'scale writes').to.equal(1);
  });

  // Fails if: a held request is dropped or hangs when the drain ends, is answered without
  // Retry-After or by anything but 503; the agent does not exit 0; the other agent does not take
  // the clients' next requests and forward them once the pod serves; more than one scale write.
  it('(c) SIGTERMs an agent holding requests; the drain ends before the pod serves: each held request gets 503 with Retry-After, none dropped', async () => {
    const startedAt = Date.now();
    // The DaemonSet's new pod on node 0, with a short drain.
    nodeAgent = await startAgent('agent-0b', 0, { EBB_ACTIVATOR_DRAIN_MS: '2000', EBB_AGENT_PORT: String(activityPort) });
    await activatorListening(nodeAgent.process, [activatorPort.get('drowsy')!]);
    const writesBefore = await scaleWrites(controller.ready.port);
    const { route, load: running, podIP } = await holdAtNodeAgent('drowsy');
    const { exited } = await terminate(nodeAgent, route);
    const heldAtSigterm = route.picks.get(nodeAgent.name)!;

    // The pod does not serve yet: the drain ends, and the agent answers what it holds.
    expect(await exited, 'the agent exits 0 after its drain').to.deep.equal([0, null]);
    expect(clientFigures(running.live).failed, `the held requests: ${describeFailures(running.live)}`).to.equal(0);
    await eventually(`the clients' next requests held by ${otherAgent.name}`, async () => ((await held(otherAgent, 'drowsy')) >= 1 ? true : undefined), 10_000);
    servers.push((await startPodProcesses(podIP, ports.get('drowsy')!, `${namespace}/drowsy`, undefined, 50)).app);
    const { result, figures, writes } = await finishScenario('(c) agent SIGTERM, drain ends first', { route, running, startedAt, writesBefore }, () => ({
      'held at SIGTERM': heldAtSigterm,
      'answered 503 + Retry-After by the draining agent': route.answered(nodeAgent.name, '503'),
      'then through the other agent': route.answered(otherAgent.name, '200'),
    }));
    expect(figures.failed, describeFailures(result)).to.equal(0);
    expect(figures.unavailableWithRetryAfter, '503 with Retry-After').to.equal(heldAtSigterm);
    expect(figures.ok + figures.unavailableWithRetryAfter).to.equal(result.sent);
    expect(Object.fromEntries(route.answers.get(nodeAgent.name) ?? []), 'the held requests, each answered once').to.deep.equal({ 503: heldAtSigterm });
    expect(writes, 'scale writes').to.equal(1);
  });
});
