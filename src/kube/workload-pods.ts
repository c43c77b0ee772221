// The pods of Deployments, as the controller keeps them: a list-and-watch over every namespace
// that keeps only the slim form (src/core/resize/slim-pod.ts) of each pod a ReplicaSet controls,
// indexed by Deployment. client-node's informer would keep every full pod: in the controller
// bench (10,000 pods) that alone is more than the controller's whole memory budget. The list is
// read in pages, so no more than a page of full pods is ever held at once. Opt-in is not a filter
// here: a workload opted in later has its pods at once, without a new list.

import { CoreV1Api, ListWatch, type KubeConfig, type KubernetesListObject, type V1ObjectMeta, type V1Pod } from '@kubernetes/client-node';
import { slimPod, type SlimPod } from '../core/resize/slim-pod.ts';
import { owningDeploymentName, owningReplicaSetName } from '../core/owner.ts';
import { workloadKey, type WorkloadKey } from '../protocol/workload.ts';
import { LeanWatch } from './lean-informer.ts';
import { restartOnError } from './restart-on-error.ts';

/** What the list-watch stores per pod: its identity, and the slim pod when a ReplicaSet controls it. */
interface CachedPod {
  metadata: Pick<V1ObjectMeta, 'name' | 'namespace' | 'resourceVersion'>;
  slim?: SlimPod;
}

// Pods per list page: at most this many full pods (parsed twice: JSON, then the client's model
// objects) are held while the list is read; 10,000 pods take 100 requests. In the controller bench
// (10,000 pods, single runs on a loaded machine) the controller's RSS peak was 426 MB without this
// cache, 487 MB with pages of 500, 466-471 MB with pages of 100 (the slim pods: ~11 MB).
const PAGE = 100;

export interface WorkloadPodsOptions {
  /** The ReplicaSet as an informer knows it (its owner names the Deployment), if it does yet. */
  replicaSet(namespace: string, name: string): V1ObjectMeta | undefined;
  log(message: string): void;
}

export class WorkloadPods {
  private readonly informer: ListWatch<CachedPod>;
  /** Workload → `namespace/name` → pod. */
  private readonly byWorkload = new Map<WorkloadKey, Map<string, SlimPod>>();
  /** `namespace/name` → the workload it is indexed under. */
  private readonly indexedUnder = new Map<string, WorkloadKey>();
  private stopped = false;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: WorkloadPodsOptions,
  ) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const cached = (pod: V1Pod): CachedPod => {
      const { name, namespace = '', resourceVersion } = pod.metadata ?? {};
      const metadata = { name, namespace, resourceVersion };
      const replicaSet = owningReplicaSetName(pod.metadata);
      if (replicaSet === undefined) return { metadata };
      const deployment = owningDeploymentName(pod.metadata, options.replicaSet(namespace, replicaSet));
      return { metadata, slim: slimPod(pod, deployment === undefined ? undefined : workloadKey(namespace, deployment)) };
    };
    const list = async (): Promise<KubernetesListObject<CachedPod>> => {
      const items: CachedPod[] = [];
      let page = await core.listPodForAllNamespaces({ limit: PAGE });
      for (;;) {
        items.push(...page.items.map(cached));
        const next = page.metadata?._continue;
        if (!next) break;
        page = await core.listPodForAllNamespaces({ limit: PAGE, _continue: next });
      }
      return { metadata: { resourceVersion: page.metadata?.resourceVersion }, items };
    };
    this.informer = new ListWatch<CachedPod>('/api/v1/pods', new LeanWatch(kubeConfig, cached), list, false);
    this.informer.on('add', (pod) => this.index(pod));
    this.informer.on('update', (pod) => this.index(pod));
    this.informer.on('delete', (pod) => this.unindex(keyOf(pod)));
  }

  async start(): Promise<void> {
    restartOnError(this.informer, { what: 'pod list-watch', isStopped: () => this.stopped, log: (message) => this.options.log(message) });
    await this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }

  /** The workload's pods as last seen, terminating ones included. */
  podsOf(workload: WorkloadKey): SlimPod[] {
    return [...(this.byWorkload.get(workload)?.values() ?? [])];
  }

  private index(pod: CachedPod): void {
    const key = keyOf(pod);
    const workload = pod.slim?.workload;
    if (this.indexedUnder.get(key) !== workload) this.unindex(key);
    if (!workload || !pod.slim) return;
    let pods = this.byWorkload.get(workload);
    if (!pods) this.byWorkload.set(workload, (pods = new Map<string, SlimPod>()));
    pods.set(key, pod.slim);
    this.indexedUnder.set(key, workload);
  }

  private unindex(key: string): void {
    const workload = this.indexedUnder.get(key);
    if (!workload) return;
    this.indexedUnder.delete(key);
    const pods = this.byWorkload.get(workload);
    pods?.delete(key);
    if (pods?.size === 0) this.byWorkload.delete(workload);
  }
}

const keyOf = (pod: CachedPod) => `${pod.metadata.namespace}/${pod.metadata.name}`;
