// The activator's view of the cluster:
// - which Services sleep: the controller's activator EndpointSlices (one informer, all namespaces,
//   label ebb.dev/activator=true); the slice's ebb.dev/workload annotation names the workload and
//   ebb.dev/cluster-ips its ClusterIPs;
// - where their held requests go: the Service's ready pods (pod-backends.ts), from a Pod and a
//   Service informer per namespace that has a sleeping Service.
//
// Why per namespace, not one informer over every Running pod of the cluster (the cheaper-looking
// single watch): every agent would then cache every running pod of the cluster and receive every
// status change of every one of them, which on a large cluster is hundreds of MB per agent and a
// fan-out of all pod churn to all nodes. The namespaces with a sleeping Service are few and hold
// few pods (the sleeping workload has none), and their watches open when the Service falls asleep,
// long before its first request, so a wake does not wait for a cache to fill. Pods cannot be
// narrowed further by the API server in one watch (Services' selectors cannot be OR-ed).
// RBAC (manifests/agent/rbac.yaml): pods and services list/watch, endpointslices list/watch.
//
// A Service stays known for a while after its activator slice is removed: kube-proxy may still
// send a few requests to the agent, and they are forwarded instead of refused.

import { CoreV1Api, DiscoveryV1Api, ListWatch, Watch, type KubeConfig, type V1EndpointSlice, type V1Pod, type V1Service } from '@kubernetes/client-node';
import type { SleepingService } from '../../../src/core/activity/route.ts';
import { ACTIVATOR_CLUSTER_IPS_ANNOTATION, ACTIVATOR_SLICE_LABEL, ACTIVATOR_WORKLOAD_ANNOTATION, SERVICE_NAME_LABEL } from '../../../src/protocol/activator.ts';
import { parseWorkloadKey } from '../../../src/protocol/workload.ts';
import { RestartingInformer } from '../restarting-informer.ts';
import { acceptsConnections, answersReady } from './backend-probe.ts';
import type { Backend, WorkloadDirectory } from './directory.ts';
import { backendCandidates, type BackendCandidate } from './pod-backends.ts';

const AWAKE_GRACE_MS = 60_000;
/** How often a waiting request looks again for a ready pod (cache read, then a probe of each). */
const RECHECK_MS = 100;
/** At most this many pods are probed at once for one Service. */
const MAX_PROBED = 8;

interface Known {
  target: SleepingService & { service: { namespace: string; name: string } };
  /** The Service port name the activator slice forwards (its first port). */
  portName: string | undefined;
  /** performance.now() when the activator slice disappeared; undefined while it exists. */
  awakeSince: number | undefined;
}

/** The pods and Services of one namespace with a sleeping Service. */
class NamespaceCache {
  readonly pods: RestartingInformer<V1Pod>;
  readonly services: RestartingInformer<V1Service>;

  constructor(kubeConfig: KubeConfig, core: CoreV1Api, namespace: string) {
    const watch = new Watch(kubeConfig);
    this.pods = new RestartingInformer(new ListWatch<V1Pod>(`/api/v1/namespaces/${namespace}/pods`, watch, () => core.listNamespacedPod({ namespace }), false), `pods in ${namespace}`);
    this.services = new RestartingInformer(new ListWatch<V1Service>(`/api/v1/namespaces/${namespace}/services`, watch, () => core.listNamespacedService({ namespace }), false), `services in ${namespace}`);
    void this.pods.start();
    void this.services.start();
  }

  stop(): void {
    this.pods.stop();
    this.services.stop();
  }
}

/** The first candidate whose probe says it can take requests now, probing them in parallel. */
async function firstReady(candidates: readonly BackendCandidate[]): Promise<Backend | undefined> {
  const probes = candidates.slice(0, MAX_PROBED).map(async (candidate) => {
    const ready = await (candidate.readyUrl ? answersReady(candidate.readyUrl) : acceptsConnections(candidate.backend));
    if (!ready) throw new Error(`${candidate.pod} is not ready`);
    return candidate.backend;
  });
  return probes.length === 0 ? undefined : Promise.any(probes).catch(() => undefined);
}

export class KubeDirectory implements WorkloadDirectory {
  private readonly slices: RestartingInformer<V1EndpointSlice>;
  private readonly known = new Map<string, Known>();
  private readonly namespaces = new Map<string, NamespaceCache>();
  private readonly core: CoreV1Api;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const labelSelector = `${ACTIVATOR_SLICE_LABEL}=true`;
    const cache = new ListWatch<V1EndpointSlice>(
      '/apis/discovery.k8s.io/v1/endpointslices',
      new Watch(kubeConfig),
      () => discovery.listEndpointSliceForAllNamespaces({ labelSelector }),
      false,
      labelSelector,
    );
    for (const verb of ['add', 'update', 'delete'] as const) cache.on(verb, () => this.refresh());
    this.slices = new RestartingInformer(cache, 'activator endpointslice');
  }

  sleeping(): readonly SleepingService[] {
    return [...this.known.values()].map((k) => k.target);
  }

  whenReady(target: SleepingService, callback: (backend: Backend) => void): () => void {
    if (!target.service) return () => undefined;
    const serviceKey = `${target.service.namespace}/${target.service.name}`;
    let cancelled = false;
    let timer: NodeJS.Timeout | undefined;
    const look = async () => {
      const backend = await firstReady(this.candidatesOf(serviceKey));
      if (cancelled) return;
      if (backend) callback(backend);
      else timer = setTimeout(() => void look(), RECHECK_MS);
    };
    void look();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }

  async start(): Promise<void> {
    await this.slices.start();
    // Forgets Services that woke up longer than the grace period ago even when no slice changes.
    this.sweepTimer = setInterval(() => this.refresh(), AWAKE_GRACE_MS).unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    this.slices.stop();
    for (const cache of this.namespaces.values()) cache.stop();
    this.namespaces.clear();
  }

  private candidatesOf(serviceKey: string): BackendCandidate[] {
    const known = this.known.get(serviceKey);
    if (!known) return [];
    const { namespace, name } = known.target.service;
    const cache = this.namespaces.get(namespace);
    const service = cache?.services.cache.get(name, namespace);
    if (!cache || !service) return [];
    return backendCandidates(service, known.portName, cache.pods.cache.list(namespace));
  }

  private refresh(): void {
    const now = performance.now();
    const present = new Set<string>();
    for (const slice of this.slices.cache.list()) {
      const namespace = slice.metadata?.namespace ?? '';
      const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL] ?? '';
      const workload = parseWorkloadKey(slice.metadata?.annotations?.[ACTIVATOR_WORKLOAD_ANNOTATION] ?? '');
      if (!workload || !name || !namespace) continue;
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
    const wanted = new Set([...this.known.values()].map((k) => k.target.service.namespace));
    for (const namespace of wanted) if (!this.namespaces.has(namespace)) this.namespaces.set(namespace, new NamespaceCache(this.kubeConfig, this.core, namespace));
    for (const [namespace, cache] of this.namespaces) {
      if (wanted.has(namespace)) continue;
      cache.stop();
      this.namespaces.delete(namespace);
    }
  }
}
