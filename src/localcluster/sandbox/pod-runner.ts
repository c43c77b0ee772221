// The sandbox's kubelet: KWOK only pretends pods run, so for every Running pod that the webhook
// injected, in any namespace, this starts what the pod would run, on the pod's loopback IP: a
// stand-in app (in this process) on the app port the sidecar's environment names, and the real
// interceptor (a child process), configured from that environment exactly as the webhook wrote
// it. A deleted pod's processes are stopped. Pods the webhook did not inject are left to KWOK.

import http from 'node:http';
import { join } from 'node:path';
import { CoreV1Api, makeInformer, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { restartOnError } from '../../kube/restart-on-error.ts';
import { SIDECAR_ENV, SIDECAR_NAME } from '../../protocol/sidecar.ts';
import { startProcess, type ManagedProcess } from '../processes.ts';

export interface RunningPod {
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  ip: string;
  /** The pod as it was when it started here: its ports resolve the Services' target ports. */
  pod: V1Pod;
  /** True once the interceptor says the pod serves (its admin /ready), as a readiness probe would. */
  ready: boolean;
  stop(): Promise<void>;
}

const INTERCEPTOR = join(import.meta.dirname, '../../../agent/interceptor/main.ts');

const keyOf = (pod: V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

export class PodRunner {
  /** By `namespace/name`. */
  readonly pods = new Map<string, RunningPod>();
  /** Pods being started: the informer's updates keep coming meanwhile. */
  private readonly starting = new Set<string>();
  private readonly informer;
  private readonly listeners: (() => void)[] = [];
  private stopped = false;

  constructor(
    kubeConfig: KubeConfig,
    private readonly workDir: string,
    /** How long the stand-in app takes to answer. */
    private readonly appLatencyMs: number,
    private readonly log: (line: string) => void,
  ) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.informer = makeInformer(kubeConfig, '/api/v1/pods', () => core.listPodForAllNamespaces());
    const sync = (pod: V1Pod) =>
      void this.sync(pod).catch((error: unknown) => this.log(`pod ${keyOf(pod)} cannot run here: ${error instanceof Error ? error.message : String(error)}`));
    this.informer.on('add', sync);
    this.informer.on('update', sync);
    this.informer.on('delete', (pod) => void this.remove(keyOf(pod)));
    restartOnError(this.informer, { what: "the sandbox kubelet's pod informer", isStopped: () => this.stopped, log });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
    await Promise.all([...this.pods.keys()].map((key) => this.remove(key)));
  }

  /** Calls `listener` whenever a pod starts serving or stops here. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private async sync(pod: V1Pod): Promise<void> {
    const key = keyOf(pod);
    const ip = pod.status?.podIP;
    if (pod.metadata?.deletionTimestamp) return this.remove(key);
    if (this.pods.has(key) || this.starting.has(key) || pod.status?.phase !== 'Running' || !ip) return;
    const sidecar = pod.spec?.initContainers?.find((container) => container.name === SIDECAR_NAME);
    if (!sidecar) return; // not injected: nothing of ebb's to run
    const env = Object.fromEntries((sidecar.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    this.starting.add(key);
    const running = await this.run(pod, ip, env).finally(() => this.starting.delete(key));
    const now = this.informer.get(pod.metadata?.name ?? '', pod.metadata?.namespace);
    if (!now || now.metadata?.deletionTimestamp) return running.stop(); // deleted while it started
    this.pods.set(key, running);
    await this.waitReady(key, running, Number(env[SIDECAR_ENV.adminPort]));
  }

  /** The stand-in app and the interceptor of one pod. */
  private async run(pod: V1Pod, ip: string, env: Record<string, string>): Promise<RunningPod> {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const app = http.createServer((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`hello from ${namespace}/${name}\n`), this.appLatencyMs);
    });
    await new Promise<void>((resolve, reject) => app.once('error', reject).listen(Number(env[SIDECAR_ENV.appPort]), ip, resolve));
    const interceptor: ManagedProcess = startProcess(
      `interceptor-${namespace}-${name}`,
      process.execPath,
      ['--import', 'tsx', INTERCEPTOR],
      join(this.workDir, `interceptor-${namespace}-${name}.log`),
      { ...env, EBB_LISTEN_HOST: ip, EBB_APP_HOST: ip },
    );
    return {
      namespace,
      name,
      labels: pod.metadata?.labels ?? {},
      ip,
      pod,
      ready: false,
      stop: async () => {
        await interceptor.stop(2000);
        app.closeAllConnections();
        await new Promise((resolve) => app.close(resolve));
      },
    };
  }

  private async waitReady(key: string, running: RunningPod, adminPort: number): Promise<void> {
    while (this.pods.get(key) === running && !running.ready) {
      running.ready = await fetch(`http://${running.ip}:${adminPort}/ready`, { signal: AbortSignal.timeout(500) }).then(
        (r) => r.ok,
        () => false,
      );
      if (!running.ready) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (running.ready) this.changed();
  }

  private async remove(key: string): Promise<void> {
    const running = this.pods.get(key);
    if (!running) return;
    this.pods.delete(key);
    this.changed();
    await running.stop();
  }
}
