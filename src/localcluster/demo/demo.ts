// The sandbox's demo: a Deployment opted in to ebb, real traffic in phases (quiet, rising, busy,
// quiet), and a live line every two seconds showing what ebb does about it: replicas, requests in
// flight, where the Service's traffic goes, and the controller's reason. Quiet phases are longer
// than the workload's idle-after, so the user watches it ebb to zero and wake on the next request.
// Beside it, an over-requesting workload right-sized in place (greedy.ts), with a line of its own.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { AppsV1Api, CoreV1Api, type V1Container, type V1Deployment } from '@kubernetes/client-node';
import { STATUS_ANNOTATION } from '../../core/annotations.ts';
import type { ActivityReport } from '../../protocol/activity.ts';
import type { ControlPlane } from '../control-plane.ts';
import { clusterResourceUsage, createKwokObject } from '../kwok-metrics.ts';
import type { RunningEbb } from '../ebb.ts';
import type { SandboxWorkloads } from '../sandbox/workloads.ts';
import { GREEDY_ANNOTATIONS, GREEDY_APP, GREEDY_CONTAINER, GREEDY_USAGE, GreedyView } from './greedy.ts';

export const DEMO_NAMESPACE = 'demo';
const DEMO_APP = 'hello';
const IDLE_AFTER = '20s';

const PHASES = [
  { name: 'quiet', clients: 0, seconds: 35 },
  { name: 'rising', clients: 4, seconds: 20 },
  { name: 'busy', clients: 16, seconds: 30 },
  { name: 'easing', clients: 4, seconds: 20 },
] as const;

// What the demo's app containers use, as KWOK's kubelets report it to ebb's agents: CPU rising and
// falling between 50m and 110m every two minutes with a little noise, memory creeping up 1Mi every
// 20 s from 40Mi and dropping back every ~10 minutes (a cache that fills and is flushed). CEL on
// the pod's age (KWOK's SinceSecond); integer arithmetic where CEL has no floating modulo.
const AGE = 'int(pod.SinceSecond())';
const DEMO_USAGE = clusterResourceUsage('ebb-demo', { matchNamespaces: [DEMO_NAMESPACE] }, [
  {
    containers: ['app'],
    usage: {
      cpu: { expression: `Quantity("50m") + Quantity("1m") * (double(${AGE} % 120 < 60 ? ${AGE} % 120 : 120 - ${AGE} % 120) + 5.0 * Rand())` },
      memory: { expression: `Quantity("40Mi") + Quantity("1Mi") * double(${AGE} / 20 % 32)` },
    },
  },
  GREEDY_USAGE,
]);

export interface Demo {
  servicePort: number;
  stop(): void;
}

/**
 * The demo runs on the sandbox's stand-ins like any workload: its pods run in `sandbox.pods`, and
 * its Service gets its local port from `sandbox.proxy` once its first pod serves.
 */
export async function startDemo(controlPlane: ControlPlane, ebb: RunningEbb, sandbox: SandboxWorkloads, print: (line: string) => void): Promise<Demo> {
  const { kubeConfig } = controlPlane;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  sandbox.usage.leaveOut(DEMO_NAMESPACE);
  await core.createNamespace({ body: { metadata: { name: DEMO_NAMESPACE, labels: { 'ebb.dev/injection': 'enabled' } } } });
  await createKwokObject(kubeConfig, DEMO_USAGE);
  const labels = { app: DEMO_APP };
  await core.createNamespacedService({
    namespace: DEMO_NAMESPACE,
    body: { metadata: { name: DEMO_APP }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
  });
  const helloAnnotations = {
    'ebb.dev/min-replicas': '0',
    'ebb.dev/max-replicas': '6',
    'ebb.dev/target-concurrency': '3',
    'ebb.dev/idle-after': IDLE_AFTER,
    'ebb.dev/scale-down-delay': '15s',
  };
  await apps.createNamespacedDeployment({
    namespace: DEMO_NAMESPACE,
    body: demoDeployment(DEMO_APP, helloAnnotations, { name: 'app', image: 'registry.example/hello:1' }),
  });
  await apps.createNamespacedDeployment({ namespace: DEMO_NAMESPACE, body: demoDeployment(GREEDY_APP, GREEDY_ANNOTATIONS, GREEDY_CONTAINER) });
  const greedy = new GreedyView(core, apps, DEMO_NAMESPACE);

  const servicePort = await localPort(sandbox, DEMO_APP);

  const traffic = new Traffic(servicePort);
  const started = Date.now();
  let stopped = false;
  const cycleSeconds = PHASES.reduce((sum, phase) => sum + phase.seconds, 0);
  const phaseAt = (elapsedSeconds: number) => {
    let t = elapsedSeconds % cycleSeconds;
    for (const phase of PHASES) {
      if (t < phase.seconds) return phase;
      t -= phase.seconds;
    }
    return PHASES[0];
  };
  const token = () => readFileSync(ebb.controllerTokenFile, 'utf8').trim();

  const show = async () => {
    const phase = phaseAt((Date.now() - started) / 1000);
    traffic.clients = phase.clients;
    const deployment = await apps.readNamespacedDeployment({ name: DEMO_APP, namespace: DEMO_NAMESPACE });
    const status = JSON.parse(deployment.metadata?.annotations?.[STATUS_ANNOTATION] ?? '{}') as { message?: string };
    let inFlight = 0;
    for (const agent of ebb.agents) {
      const response = await fetch(`http://127.0.0.1:${agent.activityPort}/activity`, { headers: { Authorization: `Bearer ${token()}` } }).catch(
        () => undefined,
      );
      if (!response?.ok) continue;
      const report = (await response.json()) as ActivityReport;
      for (const workload of report.workloads) if (workload.workload === `${DEMO_NAMESPACE}/${DEMO_APP}`) inFlight += workload.meanInFlight + workload.held;
    }
    const time = new Date().toISOString().slice(11, 19);
    const replicas = `${deployment.spec?.replicas ?? 0} (ready ${deployment.status?.readyReplicas ?? 0})`;
    print(
      `${time}  ${phase.name.padEnd(6)} ${String(phase.clients).padStart(2)} clients | replicas ${replicas.padEnd(11)} | in flight ${inFlight.toFixed(1).padStart(5)} | ` +
        `${sandbox.proxy.routesToActivator(DEMO_NAMESPACE, DEMO_APP) ? 'via activator' : 'via pods     '} | ${traffic.summary()} | ${status.message ?? '(no decision yet)'}`,
    );
    const greedyLine = await greedy.changedLine();
    if (greedyLine) print(`${time}  ${greedyLine}`);
  };
  const timer = setInterval(() => {
    if (!stopped) void show().catch((error: unknown) => print(`(demo view: ${error instanceof Error ? error.message : String(error)})`));
  }, 2000);

  return {
    servicePort,
    stop() {
      stopped = true;
      clearInterval(timer);
      traffic.stop();
    },
  };
}

/** The loopback port the sandbox's kube-proxy gives the demo Service's one port, once its first pod serves. */
async function localPort(sandbox: SandboxWorkloads, service: string, timeoutMs = 90_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const port = sandbox.proxy.localPorts(DEMO_NAMESPACE, service)[0]?.localPort;
    if (port !== undefined) return port;
    if (Date.now() > deadline)
      throw new Error(
        `the demo Service ${DEMO_NAMESPACE}/${service} got no local port in ${timeoutMs / 1000} s: is its pod running? (see interceptor-${DEMO_NAMESPACE}-*.log)`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** One replica of `container` serving on the port named http (8080), as a non-root user, labelled app=<name>. */
export function demoDeployment(name: string, annotations: Record<string, string>, container: V1Container): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, annotations },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ ...container, ports: [{ name: 'http', containerPort: 8080 }], securityContext: { runAsNonRoot: true, runAsUser: 1000 } }] },
      },
    },
  };
}

/** Closed-loop clients against the Service: `clients` of them, each sending its next request when answered. */
class Traffic {
  clients = 0;
  private running = 0;
  private stopped = false;
  private answered = 0;
  private failed = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly loop: NodeJS.Timeout;

  constructor(private readonly port: number) {
    this.loop = setInterval(() => {
      while (!this.stopped && this.running < this.clients) void this.client();
    }, 200);
  }

  summary(): string {
    const text = `${String(this.answered).padStart(5)} ok ${String(this.failed).padStart(3)} failed`;
    this.answered = 0;
    this.failed = 0;
    return text;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.loop);
    this.agent.destroy();
  }

  private async client(): Promise<void> {
    this.running++;
    const id = this.running;
    try {
      while (!this.stopped && id <= this.clients) {
        const ok = await new Promise<boolean>((resolve) => {
          const req = http.get({ host: '127.0.0.1', port: this.port, path: '/', agent: this.agent, timeout: 70_000 }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode === 200));
          });
          req.on('error', () => resolve(false));
          req.on('timeout', () => req.destroy());
        });
        if (ok) this.answered++;
        else this.failed++;
      }
    } finally {
      this.running--;
    }
  }
}
