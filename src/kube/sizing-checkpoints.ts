// The recommender's memory in the cluster: ConfigMaps in ebb's own namespace, each holding the
// checkpoints of one shard of the workloads (core/sizing/checkpoint-shards.ts), written by the
// leader and read by whichever replica leads next. ConfigMaps in ebb's namespace need no CRD and
// keep the controller's write access to ebb's namespace (a Role, not a ClusterRole); a workload's
// namespace would need ConfigMap writes everywhere.

import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { isConflict, isNotFound } from './errors.ts';
import { answeredWithMetadataOnly } from './metadata-answer.ts';

export const CHECKPOINT_LABEL = 'ebb.dev/sizing-checkpoint';
/** A shard's key: `{"v":1,"checkpoints":[…]}`. */
export const SHARD_KEY = 'checkpoints.json';
/**
 * The key of the ConfigMaps written before shards, one per workload (`ebb-sizing.<namespace>.<name>`,
 * a single checkpoint): still read when a replica starts leading, deleted once the shards hold their workloads.
 */
export const WORKLOAD_KEY = 'checkpoint.json';

/** Shard `index` of `count`: a new count writes a new set of names, and the old set stays whole until the new one is. */
export function shardName(index: number, count: number): string {
  return `ebb-sizing-${index}-of-${count}`;
}

/** The index and count a shard's name says; undefined for any other name. */
export function shardPosition(name: string): { index: number; count: number } | undefined {
  const match = /^ebb-sizing-(\d+)-of-(\d+)$/.exec(name);
  return match ? { index: Number(match[1]), count: Number(match[2]) } : undefined;
}

export interface StoredCheckpoints {
  name: string;
  /** `shard`: a shard's text; `workload`: one workload's checkpoint, as written before shards. */
  kind: 'shard' | 'workload';
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

  async list(): Promise<StoredCheckpoints[]> {
    const list = await this.core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector: CHECKPOINT_LABEL });
    return list.items.flatMap((configMap): StoredCheckpoints[] => {
      const name = configMap.metadata?.name ?? '';
      const shard = configMap.data?.[SHARD_KEY];
      if (shard !== undefined) return [{ name, kind: 'shard', text: shard }];
      const workload = configMap.data?.[WORKLOAD_KEY];
      return workload !== undefined ? [{ name, kind: 'workload', text: workload }] : [];
    });
  }

  /** Creates or replaces a shard; the leader is the only writer, so the last write wins. */
  async write(name: string, text: string): Promise<void> {
    const body: V1ConfigMap = {
      metadata: { name, namespace: this.namespace, labels: { [CHECKPOINT_LABEL]: 'true', 'app.kubernetes.io/part-of': 'ebb' } },
      data: { [SHARD_KEY]: text },
    };
    try {
      await this.core.replaceNamespacedConfigMap({ name, namespace: this.namespace, body }, answeredWithMetadataOnly());
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await this.core.createNamespacedConfigMap({ namespace: this.namespace, body }, answeredWithMetadataOnly());
      } catch (createError) {
        if (!isConflict(createError)) throw createError; // created meanwhile: the next write replaces it
      }
    }
  }

  async delete(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedConfigMap({ name, namespace: this.namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
