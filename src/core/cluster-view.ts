// What the webhook knows about the cluster, read from informer caches so that admitting a pod
// makes no API call. src/kube/cluster-cache.ts implements it over informers; tests use a map.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { ObjectInfo } from './mutation.ts';
import type { Policy } from './policy.ts';
import type { Recommendation } from './recommendation.ts';

export interface ClusterView {
  /** True once every cache has synced and the policy has been read (or found absent). */
  ready(): boolean;
  namespace(name: string): ObjectInfo | undefined;
  /** The ReplicaSet's metadata, undefined when the cache has not seen it (yet). */
  replicaSet(namespace: string, name: string): V1ObjectMeta | undefined;
  deployment(namespace: string, name: string): ObjectInfo | undefined;
  /** The last valid policy (the defaults when there is none). */
  policy(): Policy;
  recommendation(namespace: string, deployment: string): Recommendation | undefined;
}
