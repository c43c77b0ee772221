// A ClusterView from plain maps, for tests of the webhook without a cluster.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { ClusterView } from '../../../src/core/cluster-view.ts';
import type { ObjectInfo } from '../../../src/core/mutation.ts';
import { DEFAULT_POLICY, type Policy } from '../../../src/core/policy.ts';
import type { Recommendation } from '../../../src/core/recommendation.ts';

export class FakeClusterView implements ClusterView {
  isReady = true;
  currentPolicy: Policy = DEFAULT_POLICY;
  readonly namespaces = new Map<string, ObjectInfo>();
  /** By `namespace/name`. */
  readonly replicaSets = new Map<string, V1ObjectMeta>();
  readonly deployments = new Map<string, ObjectInfo>();
  readonly recommendations = new Map<string, Recommendation>();

  ready(): boolean {
    return this.isReady;
  }
  namespace(name: string): ObjectInfo | undefined {
    return this.namespaces.get(name);
  }
  replicaSet(namespace: string, name: string): V1ObjectMeta | undefined {
    return this.replicaSets.get(`${namespace}/${name}`);
  }
  deployment(namespace: string, name: string): ObjectInfo | undefined {
    return this.deployments.get(`${namespace}/${name}`);
  }
  policy(): Policy {
    return this.currentPolicy;
  }
  recommendation(namespace: string, deployment: string): Recommendation | undefined {
    return this.recommendations.get(`${namespace}/${deployment}`);
  }
}
