// Requests and limits of a running pod are changed only through its `resize` subresource
// (KEP-1287), with a strategic-merge patch that names each container and only the amounts that
// change, guarded by the resourceVersion the plan was made from: if the pod changed since, the
// write fails with 409 and the next round plans again from what the cache then holds.

import { CoreV1Api, PatchStrategy, setHeaderOptions, VersionApi, type KubeConfig } from '@kubernetes/client-node';
import { formatAmounts } from '../core/pod-resources.ts';
import type { ContainerResize } from '../core/resize/plan.ts';
import { allowsMemoryLimitDecrease } from '../core/resize/server-version.ts';
import { isConflict, isNotFound, statusCode, statusMessage } from './errors.ts';
import { answeredWithMetadataOnly } from './metadata-answer.ts';

export interface ResizeTarget {
  namespace: string;
  name: string;
  resourceVersion: string;
}

export type ResizeWrite =
  | { outcome: 'written' }
  | { outcome: 'conflict' }
  | { outcome: 'gone' }
  /** The API server said no (invalid, forbidden): its message says why. */
  | { outcome: 'refused'; message: string };

const patchOf = (containers: readonly ContainerResize[]) => {
  const entry = ({ name, requests, limits }: ContainerResize) => ({
    name,
    resources: {
      ...(Object.keys(requests).length > 0 ? { requests: formatAmounts(requests) } : {}),
      ...(Object.keys(limits).length > 0 ? { limits: formatAmounts(limits) } : {}),
    },
  });
  const app = containers.filter((c) => c.kind === 'app').map(entry);
  const sidecars = containers.filter((c) => c.kind === 'sidecar').map(entry);
  return { ...(app.length > 0 ? { containers: app } : {}), ...(sidecars.length > 0 ? { initContainers: sidecars } : {}) };
};

export class PodResizer {
  private readonly core: CoreV1Api;

  constructor(private readonly kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async resize(pod: ResizeTarget, containers: readonly ContainerResize[]): Promise<ResizeWrite> {
    try {
      await this.core.patchNamespacedPodResize(
        { name: pod.name, namespace: pod.namespace, body: { metadata: { resourceVersion: pod.resourceVersion }, spec: patchOf(containers) } },
        answeredWithMetadataOnly(setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)),
      );
      return { outcome: 'written' };
    } catch (error) {
      if (isConflict(error)) return { outcome: 'conflict' };
      if (isNotFound(error)) return { outcome: 'gone' };
      const code = statusCode(error);
      if (code !== undefined && code >= 400 && code < 500) return { outcome: 'refused', message: statusMessage(error) };
      throw error;
    }
  }

  /** Whether this API server lets a resize lower a memory limit (its version, from GET /version). */
  async allowsMemoryLimitDecrease(): Promise<boolean> {
    return allowsMemoryLimitDecrease(await this.kubeConfig.makeApiClient(VersionApi).getCode());
  }
}
