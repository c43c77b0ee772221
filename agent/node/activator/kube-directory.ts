// The activator's view of the cluster from EndpointSlices (one informer, all namespaces, slices
// that belong to a Service):
// - a slice labelled ebb.dev/activator=true is the controller's sign that its Service sleeps; its
//   ebb.dev/workload annotation names the workload and ebb.dev/cluster-ips its ClusterIPs;
// - any other slice of that Service lists the real pods; one whose endpoint is Ready is where
//   held requests go.
// A Service stays known for a while after its activator slice is removed: kube-proxy may still
// send a few requests to the agent, and they are forwarded instead of refused.

import { DiscoveryV1Api, ListWatch, Watch, type KubeConfig, type V1EndpointSlice } from '@kubernetes/client-node';
import type { SleepingService } from '../../../src/core/activity/route.ts';
import { ACTIVATOR_CLUSTER_IPS_ANNOTATION, ACTIVATOR_SLICE_LABEL, ACTIVATOR_WORKLOAD_ANNOTATION, SERVICE_NAME_LABEL } from '../../../src/protocol/activator.ts';
import { parseWorkloadKey } from '../../../src/protocol/workload.ts';
import type { Backend, WorkloadDirectory } from './directory.ts';

const AWAKE_GRACE_MS = 60_000;

interface Known {
  target: SleepingService;
  /** The Service port name the activator slice forwards (its first port). */
  portName: string | undefined;
  /** performance.now() when the activator slice disappeared; undefined while it exists. */
  awakeSince: number | undefined;
}

/** A ready endpoint of one of the Service's real slices, on the activator's port name. */
export function readyBackendOf(slices: readonly V1EndpointSlice[], portName: string | undefined): Backend | undefined {
  for (const slice of slices) {
    if (slice.metadata?.labels?.[ACTIVATOR_SLICE_LABEL] === 'true') continue;
    const port = slice.ports?.find((p) => (p.name ?? '') === (portName ?? '')) ?? slice.ports?.[0];
    if (port?.port === undefined) continue;
    for (const endpoint of slice.endpoints) {
      // Per the EndpointSlice API an unset ready condition means ready; terminating is not ready.
      if (endpoint.conditions?.ready === false || endpoint.conditions?.terminating === true) continue;
      const address = endpoint.addresses[0];
      if (address) return { host: address, port: port.port };
    }
  }
  return undefined;
}

export class KubeDirectory implements WorkloadDirectory {
  private readonly informer: ListWatch<V1EndpointSlice>;
  private readonly known = new Map<string, Known>();
  private readonly waiters = new Set<{ serviceKey: string; portName: string | undefined; callback: (backend: Backend) => void }>();

  constructor(kubeConfig: KubeConfig) {
    const api = kubeConfig.makeApiClient(DiscoveryV1Api);
    this.informer = new ListWatch<V1EndpointSlice>(
      '/apis/discovery.k8s.io/v1/endpointslices',
      new Watch(kubeConfig),
      () => api.listEndpointSliceForAllNamespaces({ labelSelector: SERVICE_NAME_LABEL }),
      false,
      SERVICE_NAME_LABEL,
    );
    for (const verb of ['add', 'update', 'delete'] as const) this.informer.on(verb, () => this.refresh());
    this.informer.on('error', (error: unknown) => {
      console.error(JSON.stringify({ msg: 'endpointslice watch failed; restarting', error: String(error) }));
      setTimeout(() => void this.informer.start().catch(() => undefined), 2_000);
    });
  }

  sleeping(): readonly SleepingService[] {
    return [...this.known.values()].map((k) => k.target);
  }

  whenReady(target: SleepingService, callback: (backend: Backend) => void): () => void {
    if (!target.service) return () => undefined;
    const serviceKey = `${target.service.namespace}/${target.service.name}`;
    const portName = this.known.get(serviceKey)?.portName;
    const backend = readyBackendOf(this.slicesOf(serviceKey), portName);
    if (backend) {
      callback(backend);
      return () => undefined;
    }
    const waiter = { serviceKey, portName, callback };
    this.waiters.add(waiter);
    return () => this.waiters.delete(waiter);
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): void {
    void this.informer.stop();
  }

  private slicesOf(serviceKey: string): V1EndpointSlice[] {
    const [namespace, name] = serviceKey.split('/');
    return this.informer.list(namespace).filter((s) => s.metadata?.labels?.[SERVICE_NAME_LABEL] === name);
  }

  private refresh(): void {
    const now = performance.now();
    const present = new Set<string>();
    for (const slice of this.informer.list()) {
      const labels = slice.metadata?.labels ?? {};
      if (labels[ACTIVATOR_SLICE_LABEL] !== 'true') continue;
      const namespace = slice.metadata?.namespace ?? '';
      const name = labels[SERVICE_NAME_LABEL] ?? '';
      const workload = parseWorkloadKey(slice.metadata?.annotations?.[ACTIVATOR_WORKLOAD_ANNOTATION] ?? '');
      if (!workload || !name) continue;
      const clusterIPs = (slice.metadata?.annotations?.[ACTIVATOR_CLUSTER_IPS_ANNOTATION] ?? '').split(',').map((ip) => ip.trim()).filter(Boolean);
      const serviceKey = `${namespace}/${name}`;
      present.add(serviceKey);
      this.known.set(serviceKey, { target: { workload, service: { namespace, name }, clusterIPs }, portName: slice.ports?.[0]?.name ?? undefined, awakeSince: undefined });
    }
    for (const [serviceKey, known] of this.known) {
      if (present.has(serviceKey)) continue;
      known.awakeSince ??= now;
      if (now - known.awakeSince > AWAKE_GRACE_MS) this.known.delete(serviceKey);
    }
    for (const waiter of this.waiters) {
      const backend = readyBackendOf(this.slicesOf(waiter.serviceKey), waiter.portName);
      if (!backend) continue;
      this.waiters.delete(waiter);
      waiter.callback(backend);
    }
  }
}
