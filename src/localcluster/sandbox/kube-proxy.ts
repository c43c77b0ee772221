// The sandbox's kube-proxy for every Service ebb handles, in any namespace: a Service that selects
// a pod the sandbox runs (one the webhook injected), or that ebb's activator EndpointSlice routes
// while its workload sleeps (then no pod runs). Each such Service gets a ServiceProxy, one loopback
// port per Service port, when it appears or first fronts such a pod, and loses them when it goes;
// a changed port list opens and closes ports to match. The sandbox prints each port it opens or
// closes and records them on the Service (LOCAL_URL_ANNOTATION), where `kubectl ebb status` reads
// them. A Service that never fronts an injected pod gets no port: the sandbox runs no pod for it.

import {
  CoreV1Api,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type V1EndpointSlice,
  type V1Service,
} from '@kubernetes/client-node';
import type { ServicePorts } from '../../core/activator-ports.ts';
import { readActivatorSlice, serviceKey } from '../../core/activator-slice.ts';
import { formatLocalUrls, LOCAL_URL_ANNOTATION } from '../../core/report/local-urls.ts';
import { servicesSelecting } from '../../core/traffic-visibility.ts';
import { activatorSliceInformer } from '../../kube/activator-slices.ts';
import { restartOnError } from '../../kube/restart-on-error.ts';
import type { PodRunner } from './pod-runner.ts';
import { ServiceProxy, type LocalPort } from './service-proxy.ts';

type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export class KubeProxy {
  private readonly core: CoreV1Api;
  private readonly services: Cache<V1Service>;
  private readonly slices: Cache<V1EndpointSlice>;
  private readonly proxies = new Map<string, ServiceProxy>();
  /** Per Service, the activator ports its slice gives now, and the last ones it gave. */
  private readonly activatorPorts = new Map<string, ServicePorts>();
  private readonly lastActivatorPorts = new Map<string, ServicePorts>();
  /** One Service's change at a time: opening ports and writing the annotation take turns. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    kubeConfig: KubeConfig,
    private readonly pods: PodRunner,
    private readonly activatorHosts: readonly string[],
    private readonly print: (line: string) => void,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.services = makeInformer(kubeConfig, '/api/v1/services', () => this.core.listServiceForAllNamespaces());
    this.slices = activatorSliceInformer(kubeConfig);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.services.on(verb, (service) => this.sync(keyOf(service)));
      this.slices.on(verb, () => this.slicesChanged());
    }
    const isStopped = () => this.stopped;
    restartOnError(this.services, { what: "the sandbox kube-proxy's Service informer", isStopped, log: print });
    restartOnError(this.slices, { what: "the sandbox kube-proxy's EndpointSlice informer", isStopped, log: print });
    // A pod that starts serving may be the first a Service fronts.
    pods.onChange(() => {
      for (const service of this.services.list()) if (!this.proxies.has(keyOf(service))) this.sync(keyOf(service));
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.slices.start(), this.services.start()]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.services.stop(), this.slices.stop()]);
    await this.queue;
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.close()));
    this.proxies.clear();
  }

  /** The Service's local ports; none while the sandbox does not serve it. */
  localPorts(namespace: string, name: string): LocalPort[] {
    return this.proxies.get(serviceKey({ namespace, name }))?.ports ?? [];
  }

  /** The proxy of a Service the sandbox serves. */
  proxy(namespace: string, name: string): ServiceProxy | undefined {
    return this.proxies.get(serviceKey({ namespace, name }));
  }

  /** Whether the Service's traffic goes to ebb's activator (its workload sleeps). */
  routesToActivator(namespace: string, name: string): boolean {
    return this.activatorPorts.has(serviceKey({ namespace, name }));
  }

  private slicesChanged(): void {
    const before = new Set(this.activatorPorts.keys());
    this.activatorPorts.clear();
    for (const slice of this.slices.list()) {
      const view = readActivatorSlice(slice);
      if (!view) continue;
      const key = serviceKey(view.service);
      this.activatorPorts.set(key, view.ports);
      this.lastActivatorPorts.set(key, view.ports);
      if (!before.has(key)) this.sync(key);
    }
  }

  private sync(key: string): void {
    this.queue = this.queue
      .then(() => this.syncService(key))
      .catch((error: unknown) => this.print(`sandbox kube-proxy: ${key}: ${error instanceof Error ? error.message : String(error)}`));
  }

  private async syncService(key: string): Promise<void> {
    if (this.stopped) return;
    const [namespace, name] = key.split('/') as [string, string];
    const service = this.services.get(name, namespace);
    let proxy = this.proxies.get(key);
    if (!service) {
      if (!proxy) return;
      this.proxies.delete(key);
      this.lastActivatorPorts.delete(key);
      const ports = proxy.ports;
      await proxy.close();
      for (const port of ports) this.print(`${key}:${port.servicePort.port} closed: the Service is gone`);
      return;
    }
    if (!proxy) {
      if (!this.handles(key, service)) return;
      proxy = new ServiceProxy(service, {
        activatorPorts: () => this.activatorPorts.get(key),
        lastActivatorPorts: () => this.lastActivatorPorts.get(key),
        pods: () => this.pods.pods.values(),
        activatorHosts: this.activatorHosts,
      });
      this.proxies.set(key, proxy);
    }
    const { opened, closed } = await proxy.sync(service);
    for (const port of closed) this.print(`${key}:${port.servicePort.port} closed: the Service no longer has this port`);
    for (const port of opened) this.print(`${key}:${port.servicePort.port} → curl ${port.url}`);
    await this.record(service, proxy);
  }

  /** ebb's: its activator slice routes it, or it selects a pod the sandbox runs. */
  private handles(key: string, service: V1Service): boolean {
    if (this.activatorPorts.has(key)) return true;
    const namespace = service.metadata?.namespace;
    return [...this.pods.pods.values()].some((pod) => pod.namespace === namespace && servicesSelecting([service], pod.labels).length > 0);
  }

  /** The local URLs on the Service, for `kubectl ebb status`; written only when they change. */
  private async record(service: V1Service, proxy: ServiceProxy): Promise<void> {
    const value = formatLocalUrls(proxy.ports.map(({ servicePort, url }) => ({ port: servicePort.port, url })));
    if (service.metadata?.annotations?.[LOCAL_URL_ANNOTATION] === value) return;
    await this.core.patchNamespacedService(
      { name: proxy.name, namespace: proxy.namespace, body: { metadata: { annotations: { [LOCAL_URL_ANNOTATION]: value } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

const keyOf = (service: V1Service) => serviceKey({ namespace: service.metadata?.namespace ?? '', name: service.metadata?.name ?? '' });
