// The activator's view of the cluster:
// - which ports to listen on, and whose traffic each one carries: the controller's activator
//   EndpointSlices (one informer, all namespaces, label ebb.dev/activator=true), each read by the
//   core (readActivatorSlice) and merged into routes (activatorRoutes, src/core/activity/route.ts);
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
// A Service keeps its port for a while after its activator slice is removed (route.ts): kube-proxy
// may still send a few requests to the agent, and they are forwarded instead of refused.

import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1EndpointSlice, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { readActivatorSlice } from '../../../src/core/activator-slice.ts';
import { activatorRoutes, targetKey, type ActivatorRoute, type SleepingService } from '../../../src/core/activity/route.ts';
import { activatorSliceInformer } from '../../../src/kube/activator-slices.ts';
import type { Log } from '../../../src/program/log.ts';
import { RestartingInformer } from '../restarting-informer.ts';
import { acceptsConnections, answersReady } from './backend-probe.ts';
import type { Backend, WorkloadDirectory } from './directory.ts';
import { backendCandidates, type BackendCandidate } from './pod-backends.ts';

const AWAKE_GRACE_MS = 60_000;
/** How often a waiting request looks again for a ready pod (cache read, then a probe of each). */
const RECHECK_MS = 100;
/** At most this many pods are probed at once for one Service. */
const MAX_PROBED = 8;

/** The pods and Services of one namespace with a sleeping Service. */
class NamespaceCache {
  readonly pods: RestartingInformer<V1Pod>;
  readonly services: RestartingInformer<V1Service>;

  constructor(kubeConfig: KubeConfig, core: CoreV1Api, namespace: string, log: Log) {
    const watch = new Watch(kubeConfig);
    this.pods = new RestartingInformer(
      new ListWatch<V1Pod>(`/api/v1/namespaces/${namespace}/pods`, watch, () => core.listNamespacedPod({ namespace }), false),
      `pods in ${namespace}`,
      log,
    );
    this.services = new RestartingInformer(
      new ListWatch<V1Service>(`/api/v1/namespaces/${namespace}/services`, watch, () => core.listNamespacedService({ namespace }), false),
      `services in ${namespace}`,
      log,
    );
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

/** Routes compare equal when they listen on the same ports for the same targets. */
const routesKey = (routes: readonly ActivatorRoute[]) => routes.map((route) => `${route.port} ${targetKey(route.target)}`).join('\n');

export class KubeDirectory implements WorkloadDirectory {
  private readonly slices: RestartingInformer<V1EndpointSlice>;
  private current: ActivatorRoute[] = [];
  private lastConflicts = '';
  private readonly changeListeners: (() => void)[] = [];
  private readonly namespaces = new Map<string, NamespaceCache>();
  /** Per namespace, how many held-request queues wait for a pod there: its caches stay meanwhile. */
  private readonly waiting = new Map<string, number>();
  private readonly core: CoreV1Api;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly log: Log,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    const cache = activatorSliceInformer(kubeConfig);
    for (const verb of ['add', 'update', 'delete'] as const) cache.on(verb, () => this.refresh());
    this.slices = new RestartingInformer(cache, 'activator endpointslice', log);
  }

  routes(): readonly ActivatorRoute[] {
    return this.current;
  }

  onRoutesChanged(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  whenReady(target: SleepingService, callback: (backend: Backend) => void): () => void {
    const namespace = target.service?.namespace;
    if (namespace === undefined) return () => undefined;
    this.waiting.set(namespace, (this.waiting.get(namespace) ?? 0) + 1);
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.waiting.set(namespace, (this.waiting.get(namespace) ?? 1) - 1);
      if (this.waiting.get(namespace) === 0) this.waiting.delete(namespace);
    };
    const look = async () => {
      const backend = await firstReady(this.candidatesOf(target));
      if (done) return;
      if (!backend) {
        timer = setTimeout(() => void look(), RECHECK_MS);
        return;
      }
      finish();
      callback(backend);
    };
    void look();
    return finish;
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

  /** The target Service's serving pods, at the pod port of the Service port the request came for. */
  private candidatesOf(target: SleepingService): BackendCandidate[] {
    if (!target.service) return [];
    const { namespace, name } = target.service;
    const cache = this.namespaces.get(namespace);
    const service = cache?.services.cache.get(name, namespace);
    if (!cache || !service) return [];
    return backendCandidates(service, target.portName, cache.pods.cache.list(namespace));
  }

  private refresh(): void {
    const slices = this.slices.cache.list().flatMap((slice) => readActivatorSlice(slice) ?? []);
    const { routes, conflicts } = activatorRoutes(this.current, slices, performance.now(), AWAKE_GRACE_MS);
    if (conflicts.join('\n') !== this.lastConflicts) for (const conflict of conflicts) this.log('warn', 'activator port conflict', { conflict });
    this.lastConflicts = conflicts.join('\n');
    const changed = routesKey(routes) !== routesKey(this.current);
    this.current = routes;

    const wanted = new Set([...routes.flatMap((route) => (route.target.service ? [route.target.service.namespace] : [])), ...this.waiting.keys()]);
    for (const namespace of wanted)
      if (!this.namespaces.has(namespace)) this.namespaces.set(namespace, new NamespaceCache(this.kubeConfig, this.core, namespace, this.log));
    for (const [namespace, cache] of this.namespaces) {
      if (wanted.has(namespace)) continue;
      cache.stop();
      this.namespaces.delete(namespace);
    }
    if (changed) for (const listener of this.changeListeners) listener();
  }
}
