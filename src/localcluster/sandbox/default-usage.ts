// What the user's app containers use, as KWOK's kubelets report it to ebb's agents, so that ebb has
// a signal to right-size them from: a KWOK ClusterResourceUsage for every namespace where the
// sandbox runs an injected pod, with modest figures and a little noise — CPU 20-25m, memory
// 48-52Mi. KWOK reports app containers only (spec.containers), not the interceptor sidecar.
//
// The user overrides it for a pod with a ResourceUsage of the pod's name and namespace, which KWOK
// takes before any ClusterResourceUsage. Namespaces with a usage of their own (the demo's) are left
// out: where two ClusterResourceUsages select a pod, KWOK's choice between them is not defined.

import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { clusterResourceUsage, createKwokObject, type ContainerUsageSpec } from '../kwok-metrics.ts';
import type { PodRunner } from './pod-runner.ts';

export const DEFAULT_USAGE_NAME = 'ebb-sandbox-default';

/** Every container of the selected pods (no `containers`): CPU 20m + up to 5m, memory 48Mi + up to 4Mi, drawn at each read. */
export const DEFAULT_USAGE: ContainerUsageSpec = {
  usage: {
    cpu: { expression: 'Quantity("20m") + Quantity("1m") * (5.0 * Rand())' },
    memory: { expression: 'Quantity("48Mi") + Quantity("1Mi") * (4.0 * Rand())' },
  },
};

export class DefaultUsage {
  private readonly covered = new Set<string>();
  /** Namespaces whose usage someone else describes. */
  private readonly excluded = new Set<string>();
  private created = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly kubeConfig: KubeConfig,
    pods: PodRunner,
    print: (line: string) => void,
  ) {
    pods.onChange(() => {
      const namespaces = new Set(
        [...pods.pods.values()].map((pod) => pod.namespace).filter((namespace) => !this.excluded.has(namespace) && !this.covered.has(namespace)),
      );
      if (namespaces.size === 0) return;
      for (const namespace of namespaces) this.covered.add(namespace);
      this.queue = this.queue
        .then(() => this.write())
        .catch((error: unknown) => print(`sandbox usage: ${error instanceof Error ? error.message : String(error)}`));
    });
  }

  /** Leaves a namespace to a usage of its own; before its first pod runs. */
  leaveOut(namespace: string): void {
    this.excluded.add(namespace);
  }

  /** The namespaces it covers so far; a namespace stays once covered (an empty list would select every pod). */
  get namespaces(): string[] {
    return [...this.covered].sort();
  }

  private async write(): Promise<void> {
    const usage = clusterResourceUsage(DEFAULT_USAGE_NAME, { matchNamespaces: this.namespaces }, [DEFAULT_USAGE]);
    if (!this.created) {
      await createKwokObject(this.kubeConfig, usage);
      this.created = true;
      return;
    }
    const [group, version] = usage.apiVersion.split('/') as [string, string];
    await this.kubeConfig
      .makeApiClient(CustomObjectsApi)
      .patchClusterCustomObject(
        { group, version, plural: 'clusterresourceusages', name: DEFAULT_USAGE_NAME, body: { spec: usage.spec } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
  }
}
