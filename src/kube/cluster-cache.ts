// The webhook's ClusterView over informers: Namespaces, ReplicaSets, Deployments, the policy
// ConfigMap, and (for the webhook only) ResourceQuotas. The policy is parsed when its ConfigMap
// changes (by resourceVersion), never per request; an invalid edit keeps the last good policy and
// is reported through onPolicyErrors.
// An informer that fails (a dropped watch, an expired resourceVersion) is restarted after a pause,
// serving from what it has meanwhile.
import {
  AppsV1Api,
  CoreV1Api,
  ListWatch,
  Watch,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type V1ConfigMap,
  type V1Deployment,
  type V1Namespace,
  type V1ObjectMeta,
  type V1ResourceQuota,
} from '@kubernetes/client-node';
import { STATUS_ANNOTATION } from '../core/annotations.ts';
import type { ClusterView } from '../core/cluster-view.ts';
import { leanInformer, replicaSetIdentity, withoutManagedFields, withSpecShared } from './lean-informer.ts';
import { restartOnError } from './restart-on-error.ts';
import type { ObjectInfo } from '../core/mutation.ts';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../core/policy.ts';
import { recommendationFromStatus, type Recommendation } from '../core/recommendation.ts';
import type { ConfigError } from '../core/setting-schema.ts';
import { rememberedPerObject } from '../core/remembered.ts';

export const POLICY_CONFIGMAP = 'ebb-policy';
export const POLICY_KEY = 'policy.yaml';

export interface ClusterCacheOptions {
  /** ebb's namespace, where the policy ConfigMap lives. */
  namespace: string;
  onPolicyErrors?: (errors: readonly ConfigError[]) => void;
  onPolicyLoaded?: (policy: Policy) => void;
  log?: (message: string) => void;
  restartDelayMs?: number;
  /**
   * Also watch ResourceQuotas (the webhook fits the sidecar into them). Off for the controller,
   * which has no use for them and no RBAC to list them.
   */
  resourceQuotas?: boolean;
}

type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

const info = (meta: V1ObjectMeta | undefined): ObjectInfo => ({ name: meta?.name ?? '', labels: meta?.labels, annotations: meta?.annotations });

export class ClusterCache implements ClusterView {
  private readonly namespaces: Cache<V1Namespace>;
  private readonly replicaSets: Cache<KubernetesObject>;
  private readonly deployments: Cache<V1Deployment>;
  private readonly configMaps: Cache<V1ConfigMap>;
  private readonly quotas: Cache<V1ResourceQuota> | undefined;
  private currentPolicy: Policy = DEFAULT_POLICY;
  private policyVersion: string | undefined;
  private synced = false;
  private stopped = false;
  /** Recommendations parsed once per Deployment object (an update replaces the object). */
  private readonly recommendations = rememberedPerObject((deployment: V1Deployment) =>
    recommendationFromStatus(deployment.metadata?.annotations?.[STATUS_ANNOTATION]),
  );

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: ClusterCacheOptions,
  ) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    this.namespaces = leanInformer(kubeConfig, '/api/v1/namespaces', () => core.listNamespace(), withoutManagedFields);
    // Asked only who owns a ReplicaSet: its template, status and annotations (a copy of the
    // Deployment's, ebb.dev/status included) are not kept.
    this.replicaSets = leanInformer(kubeConfig, '/apis/apps/v1/replicasets', () => apps.listReplicaSetForAllNamespaces(), replicaSetIdentity);
    this.deployments = leanInformer(
      kubeConfig,
      '/apis/apps/v1/deployments',
      () => apps.listDeploymentForAllNamespaces(),
      (deployment) => withSpecShared(withoutManagedFields(deployment), this.deployments.get(deployment.metadata?.name ?? '', deployment.metadata?.namespace)),
    );
    // The policy's ConfigMap alone: ebb's namespace also holds the recommender's checkpoint shards,
    // rewritten every minute, that no cache needs to hold or decode.
    const policyOnly = `metadata.name=${POLICY_CONFIGMAP}`;
    this.configMaps = new ListWatch(
      `/api/v1/namespaces/${options.namespace}/configmaps`,
      new Watch(kubeConfig),
      () => core.listNamespacedConfigMap({ namespace: options.namespace, fieldSelector: policyOnly }),
      false,
      undefined,
      policyOnly,
    );
    this.quotas = options.resourceQuotas
      ? leanInformer(kubeConfig, '/api/v1/resourcequotas', () => core.listResourceQuotaForAllNamespaces(), withoutManagedFields)
      : undefined;
    this.configMaps.on('add', (configMap) => this.loadPolicy(configMap));
    this.configMaps.on('update', (configMap) => this.loadPolicy(configMap));
    this.configMaps.on('delete', (configMap) => {
      if (configMap.metadata?.name !== POLICY_CONFIGMAP) return;
      this.setPolicy(DEFAULT_POLICY, undefined);
      this.options.log?.(`policy ConfigMap ${options.namespace}/${POLICY_CONFIGMAP} deleted: using the default policy`);
    });
  }

  /** Starts every informer; resolves once each has listed (from then on ready() is true). */
  async start(): Promise<void> {
    const informers = this.informers();
    for (const informer of informers) {
      restartOnError(informer, { what: 'informer', isStopped: () => this.stopped, log: this.options.log, delayMs: this.options.restartDelayMs });
    }
    await Promise.all(informers.map((informer) => informer.start()));
    this.synced = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.informers().map((informer) => informer.stop()));
  }

  private informers(): Informer<KubernetesObject>[] {
    return [this.namespaces, this.replicaSets, this.deployments, this.configMaps, ...(this.quotas ? [this.quotas] : [])];
  }

  ready(): boolean {
    return this.synced;
  }

  namespace(name: string): ObjectInfo | undefined {
    const namespace = this.namespaces.get(name);
    return namespace && info(namespace.metadata);
  }

  replicaSet(namespace: string, name: string): V1ObjectMeta | undefined {
    return this.replicaSets.get(name, namespace)?.metadata;
  }

  deployment(namespace: string, name: string): ObjectInfo | undefined {
    const deployment = this.deployments.get(name, namespace);
    return deployment && info(deployment.metadata);
  }

  policy(): Policy {
    return this.currentPolicy;
  }

  /** The namespace's ResourceQuotas as last seen (none when they are not watched). */
  resourceQuotas(namespace: string): readonly V1ResourceQuota[] {
    return this.quotas?.list(namespace) ?? [];
  }

  /** Every Deployment in the cluster, as the informer last saw it (the controller walks these). */
  allDeployments(): readonly V1Deployment[] {
    return this.deployments.list();
  }

  recommendation(namespace: string, deployment: string): Recommendation | undefined {
    const object = this.deployments.get(deployment, namespace);
    return object && this.recommendations(object);
  }

  private loadPolicy(configMap: V1ConfigMap): void {
    if (configMap.metadata?.name !== POLICY_CONFIGMAP || configMap.metadata.resourceVersion === this.policyVersion) return;
    const parsed = parsePolicy(configMap.data?.[POLICY_KEY] ?? '');
    if (parsed.ok) {
      this.setPolicy(parsed.policy, configMap.metadata.resourceVersion);
      return;
    }
    // Remembered so an unchanged invalid ConfigMap (a re-list) is not reported again.
    this.policyVersion = configMap.metadata.resourceVersion;
    this.options.log?.(
      `policy ${this.options.namespace}/${POLICY_CONFIGMAP} rejected, keeping the last good one: ${parsed.errors.map((error) => error.message).join('; ')}`,
    );
    this.options.onPolicyErrors?.(parsed.errors);
  }

  private setPolicy(policy: Policy, version: string | undefined): void {
    this.currentPolicy = policy;
    this.policyVersion = version;
    this.options.onPolicyLoaded?.(policy);
  }
}
