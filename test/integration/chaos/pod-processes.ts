// The test's kubelet and kube-proxy for one Deployment's pods while they come and go. KWOK only
// marks pods Running; for each Running pod this starts what it would run, on its loopback IP: the
// real app (startApp) and, for a pod the webhook injected, the real interceptor (startInterceptor)
// from the ports the pod declares. A pod without the sidecar (admitted while the webhook was
// down) runs its app alone, on the port the Service's targetPort name reaches.
//
// target() is kube-proxy: round robin over the serving endpoints of pods that are not
// terminating, and, while there are none, over those still running (kube-proxy's terminating
// endpoints fallback). KWOK hands a deleted pod's IP to the next pod at once, which a real node's
// network would not: processes are kept per IP (a pod's ports are its template's, so the next pod
// on that IP finds its app already listening) and are stopped only by close().

import type http from 'node:http';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { ADMIN_PORT_NAME, APP_PORT_NAME, SIDECAR_NAME } from '../../../src/protocol/sidecar.ts';
import type { LoadTarget } from '../../fixtures/load.ts';
import { closeServer, startApp, startInterceptor, type InterceptorReady, type Started } from '../../fixtures/processes.ts';

/** No endpoint at all: kube-proxy rejects the connection (port 1 on loopback refuses it). */
const NO_ENDPOINT: LoadTarget = { host: '127.0.0.1', port: 1 };

export interface PodEndpoint {
  uid: string;
  name: string;
  ip: string;
  port: number;
  /** Through ebb's interceptor (the pod has the sidecar) or straight to the app. */
  injected: boolean;
  serving: boolean;
  /** Deleted, or being deleted: no new requests while another endpoint serves. */
  terminating: boolean;
  answered: number;
}

export class PodProcesses {
  readonly endpoints = new Map<string, PodEndpoint>();
  readonly errors: string[] = [];
  private readonly apps = new Map<string, Promise<http.Server>>();
  private readonly interceptors = new Map<string, Promise<Started<InterceptorReady>>>();
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly core: CoreV1Api,
    private readonly namespace: string,
    private readonly labelSelector: string,
    private readonly workload: string,
    private readonly appDelayMs: number,
  ) {}

  /** Follows the pods (every 200 ms; a failed list, while the API server is down, keeps what is known). */
  start(): void {
    this.timer = setInterval(() => {
      this.syncing ??= this.sync()
        .catch(() => undefined)
        .finally(() => (this.syncing = undefined));
    }, 200);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.syncing;
    for (const interceptor of this.interceptors.values()) (await interceptor.catch(() => undefined))?.child.kill('SIGKILL');
    await Promise.all([...this.apps.values()].map(async (app) => closeServer(await app.catch(() => undefined))));
  }

  /** The endpoints that take new requests, as kube-proxy would choose them. */
  routable(): PodEndpoint[] {
    const all = [...this.endpoints.values()].filter((endpoint) => endpoint.serving);
    const live = all.filter((endpoint) => !endpoint.terminating);
    return live.length > 0 ? live : all;
  }

  /** For the load: where the next request goes. */
  readonly target = (): LoadTarget => {
    const routable = this.routable();
    if (routable.length === 0) return NO_ENDPOINT;
    const endpoint = routable[this.next++ % routable.length]!;
    return {
      host: endpoint.ip,
      port: endpoint.port,
      done: (status) => {
        if (status !== undefined) endpoint.answered += 1;
      },
    };
  };

  /** Answers that came through the interceptors of these pods. */
  answeredThroughInterceptors(uids: ReadonlySet<string>): number {
    return [...this.endpoints.values()].filter((endpoint) => uids.has(endpoint.uid) && endpoint.injected).reduce((sum, endpoint) => sum + endpoint.answered, 0);
  }

  /** Answers that came straight from apps of pods without the sidecar (traffic ebb did not see). */
  answeredDirectly(): number {
    return [...this.endpoints.values()].filter((endpoint) => !endpoint.injected).reduce((sum, endpoint) => sum + endpoint.answered, 0);
  }

  private async sync(): Promise<void> {
    const pods = (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: this.labelSelector })).items;
    const present = new Set<string>();
    for (const pod of pods) {
      const uid = pod.metadata?.uid ?? '';
      present.add(uid);
      const known = this.endpoints.get(uid);
      if (known) {
        if (pod.metadata?.deletionTimestamp) known.terminating = true;
        continue;
      }
      if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running' || !pod.status.podIP) continue;
      const endpoint = this.endpointOf(pod);
      if (!endpoint) continue;
      this.endpoints.set(uid, endpoint);
      void this.run(pod, endpoint).catch((error: unknown) => this.errors.push(`${endpoint.name}: ${String(error)}`));
    }
    for (const endpoint of this.endpoints.values()) if (!present.has(endpoint.uid)) endpoint.terminating = true;
  }

  private endpointOf(pod: V1Pod): PodEndpoint | undefined {
    const sidecar = pod.spec?.initContainers?.find((container) => container.name === SIDECAR_NAME);
    const listen = sidecar?.ports?.find((port) => port.name === 'http')?.containerPort;
    const appPort = this.appPortOf(pod);
    if (appPort === undefined || (sidecar && listen === undefined)) {
      this.errors.push(`${pod.metadata?.name}: no port to serve on`);
      return undefined;
    }
    return {
      uid: pod.metadata?.uid ?? '',
      name: pod.metadata?.name ?? '',
      ip: pod.status!.podIP!,
      port: sidecar ? listen! : appPort,
      injected: sidecar !== undefined,
      serving: false,
      terminating: false,
      answered: 0,
    };
  }

  /** The app's port: renamed `ebb-app` by the webhook, still `http` in a pod it did not see. */
  private appPortOf(pod: V1Pod): number | undefined {
    const ports = pod.spec?.containers.flatMap((container) => container.ports ?? []) ?? [];
    return (ports.find((port) => port.name === APP_PORT_NAME) ?? ports.find((port) => port.name === 'http'))?.containerPort;
  }

  private async run(pod: V1Pod, endpoint: PodEndpoint): Promise<void> {
    const appPort = this.appPortOf(pod)!;
    const { ip } = endpoint;
    if (!this.apps.has(ip)) this.apps.set(ip, startApp(appPort, this.appDelayMs, undefined, ip));
    await this.apps.get(ip);
    if (endpoint.injected) {
      const sidecar = pod.spec!.initContainers!.find((container) => container.name === SIDECAR_NAME)!;
      const admin = sidecar.ports?.find((port) => port.name === ADMIN_PORT_NAME)?.containerPort;
      if (!this.interceptors.has(ip)) {
        this.interceptors.set(
          ip,
          startInterceptor(appPort, {
            EBB_LISTEN_HOST: ip,
            EBB_LISTEN_PORT: String(endpoint.port),
            EBB_ADMIN_PORT: String(admin),
            EBB_APP_HOST: ip,
            EBB_WORKLOAD: this.workload,
          }),
        );
      }
      await this.interceptors.get(ip);
    }
    if (!this.closed) endpoint.serving = true;
  }
}
