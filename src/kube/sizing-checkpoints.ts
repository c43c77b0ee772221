// The recommender's memory in the cluster: one ConfigMap per workload in ebb's own namespace,
// written by the leader, read by whichever replica leads next. ConfigMaps in ebb's namespace need
// no CRD and keep the controller's write access to ebb's namespace (a Role, not a ClusterRole);
// a workload's namespace would need ConfigMap writes everywhere. Deleted with the workload by the
// controller (an owner reference cannot cross namespaces).

import { createHash } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { WorkloadKey } from '../protocol/workload.ts';
import { isConflict, isNotFound } from './errors.ts';

export const CHECKPOINT_LABEL = 'ebb.dev/sizing-checkpoint';
export const CHECKPOINT_WORKLOAD_ANNOTATION = 'ebb.dev/workload';
export const CHECKPOINT_KEY = 'checkpoint.json';

/** `ebb-sizing.<namespace>.<name>`, shortened with a hash when it would pass the 253-character limit. */
export function checkpointName(workload: WorkloadKey): string {
  const name = `ebb-sizing.${workload.replace('/', '.')}`;
  if (name.length <= 253) return name;
  const hash = createHash('sha256').update(workload).digest('hex').slice(0, 16);
  return `${name.slice(0, 236).replace(/[.-]+$/, '')}.${hash}`;
}

export interface StoredCheckpoint {
  workload: WorkloadKey;
  text: string;
}

export class CheckpointStore {
  private readonly core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async list(): Promise<StoredCheckpoint[]> {
    const list = await this.core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector: CHECKPOINT_LABEL });
    return list.items.flatMap((configMap) => {
      const workload = configMap.metadata?.annotations?.[CHECKPOINT_WORKLOAD_ANNOTATION] as WorkloadKey | undefined;
      const text = configMap.data?.[CHECKPOINT_KEY];
      return workload && text ? [{ workload, text }] : [];
    });
  }

  /** Creates or replaces the workload's checkpoint; the leader is the only writer, so the last write wins. */
  async write(workload: WorkloadKey, text: string): Promise<void> {
    const name = checkpointName(workload);
    const body: V1ConfigMap = {
      metadata: {
        name,
        namespace: this.namespace,
        labels: { [CHECKPOINT_LABEL]: 'true', 'app.kubernetes.io/part-of': 'ebb' },
        annotations: { [CHECKPOINT_WORKLOAD_ANNOTATION]: workload },
      },
      data: { [CHECKPOINT_KEY]: text },
    };
    try {
      await this.core.replaceNamespacedConfigMap({ name, namespace: this.namespace, body });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await this.core.createNamespacedConfigMap({ namespace: this.namespace, body });
      } catch (createError) {
        if (!isConflict(createError)) throw createError; // created meanwhile: the next write replaces it
      }
    }
  }

  async delete(workload: WorkloadKey): Promise<void> {
    try {
      await this.core.deleteNamespacedConfigMap({ name: checkpointName(workload), namespace: this.namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
