// The sandbox's kubelet for one namespace: KWOK only pretends pods run, so for every Running pod
// that the webhook injected, this starts what the pod would run, on the pod's loopback IP: a small
// app (in this process) and the real interceptor (a child process), configured from the sidecar's
// environment exactly as the webhook wrote it. A deleted pod's processes are stopped.

import http from 'node:http';
import { join } from 'node:path';
import { CoreV1Api, makeInformer, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { startProcess, type ManagedProcess } from '../processes.ts';

const SIDECAR = 'ebb-interceptor';

export interface RunningPod {
  name: string;
  labels: Readonly<Record<string, string>>;
  ip: string;
  listenPort: number;
  /** True once the interceptor says the pod serves (its admin /ready), as a readiness probe would. */
  ready: boolean;
  stop(): Promise<void>;
}

export class PodRunner {
  readonly pods = new Map<string, RunningPod>();
  private readonly informer;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly workDir: string,
    private readonly appLatencyMs: number,
  ) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.informer = makeInformer(kubeConfig, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace }));
    this.informer.on('add', (pod) => void this.sync(pod));
    this.informer.on('update', (pod) => void this.sync(pod));
    this.informer.on('delete', (pod) => void this.remove(pod.metadata?.name ?? ''));
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
    await Promise.all([...this.pods.keys()].map((name) => this.remove(name)));
  }

  private async sync(pod: V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? '';
    const ip = pod.status?.podIP;
    if (pod.metadata?.deletionTimestamp) return this.remove(name);
    if (this.pods.has(name) || pod.status?.phase !== 'Running' || !ip) return;
    const sidecar = pod.spec?.initContainers?.find((container) => container.name === SIDECAR);
    if (!sidecar) return; // not injected: nothing of ebb's to run
    const env = Object.fromEntries((sidecar.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    const appPort = Number(env.EBB_APP_PORT);
    const listenPort = Number(env.EBB_LISTEN_PORT);
    const app = http.createServer((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`hello from ${name}\n`), this.appLatencyMs);
    });
    await new Promise<void>((resolve) => app.listen(appPort, ip, resolve));
    const interceptor: ManagedProcess = startProcess(
      `interceptor-${name}`,
      process.execPath,
      ['--import', 'tsx', 'agent/interceptor/main.ts'],
      join(this.workDir, `interceptor-${name}.log`),
      { ...env, EBB_LISTEN_HOST: ip, EBB_APP_HOST: ip },
    );
    const running: RunningPod = {
      name,
      labels: pod.metadata?.labels ?? {},
      ip,
      listenPort,
      ready: false,
      stop: async () => {
        await interceptor.stop(2000);
        app.closeAllConnections();
        await new Promise((resolve) => app.close(resolve));
      },
    };
    this.pods.set(name, running);
    const adminPort = Number(env.EBB_ADMIN_PORT);
    while (this.pods.get(name) === running && !running.ready) {
      running.ready = await fetch(`http://${ip}:${adminPort}/ready`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);
      if (!running.ready) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async remove(name: string): Promise<void> {
    const running = this.pods.get(name);
    if (!running) return;
    this.pods.delete(name);
    await running.stop();
  }
}
