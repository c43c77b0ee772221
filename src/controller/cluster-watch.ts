// What the controller watches beyond the webhook's caches: Services (to route a sleeping
// workload's traffic), HorizontalPodAutoscalers (to step back from Deployments they scale), and
// the agent pods (where activity comes from and where sleeping traffic goes).

import {
  AutoscalingV2Api,
  CoreV1Api,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type V1Pod,
  type V1Service,
  type V2HorizontalPodAutoscaler,
  type V2MetricSpec,
} from '@kubernetes/client-node';
import type { ActivatorEndpoint } from '../core/activator-slice.ts';
import { servicesSelecting } from '../core/traffic-visibility.ts';
import { leanInformer, withoutManagedFields } from '../kube/lean-informer.ts';
import { restartOnError } from '../kube/restart-on-error.ts';

type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export const AGENT_SELECTOR = 'app.kubernetes.io/name=ebb-agent';

export class ClusterWatch {
  private readonly services: Cache<V1Service>;
  private readonly autoscalers: Cache<V2HorizontalPodAutoscaler>;
  private readonly agentPods: Cache<V1Pod>;
  private stopped = false;

  constructor(
    kubeConfig: KubeConfig,
    ebbNamespace: string,
    private readonly log: (message: string) => void,
  ) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const autoscaling = kubeConfig.makeApiClient(AutoscalingV2Api);
    this.services = leanInformer(kubeConfig, '/api/v1/services', () => core.listServiceForAllNamespaces(), withoutManagedFields);
    this.autoscalers = leanInformer(
      kubeConfig,
      '/apis/autoscaling/v2/horizontalpodautoscalers',
      () => autoscaling.listHorizontalPodAutoscalerForAllNamespaces(),
      withoutManagedFields,
    );
    this.agentPods = leanInformer(
      kubeConfig,
      `/api/v1/namespaces/${ebbNamespace}/pods`,
      () => core.listNamespacedPod({ namespace: ebbNamespace, labelSelector: AGENT_SELECTOR }),
      withoutManagedFields,
      AGENT_SELECTOR,
    );
  }

  async start(): Promise<void> {
    const informers = [this.services, this.autoscalers, this.agentPods] as Informer<KubernetesObject>[];
    for (const informer of informers) restartOnError(informer, { what: 'informer', isStopped: () => this.stopped, log: this.log });
    await Promise.all(informers.map((informer) => informer.start()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.services.stop(), this.autoscalers.stop(), this.agentPods.stop()]);
  }

  /** Services in the namespace whose selector picks the pod template's labels. */
  servicesFor(namespace: string, podLabels: Readonly<Record<string, string>> | undefined): V1Service[] {
    return servicesSelecting(this.services.list(namespace), podLabels);
  }

  /** The HPA whose scale target is this Deployment, if any. */
  autoscalerFor(namespace: string, deployment: string): string | undefined {
    return this.autoscalerOf(namespace, deployment)?.metadata?.name;
  }

  /** The metrics the Deployment's HPA targets (undefined: its default, CPU utilization), if it has one. */
  autoscalerMetricsFor(namespace: string, deployment: string): { name: string; metrics: readonly V2MetricSpec[] | undefined } | undefined {
    const hpa = this.autoscalerOf(namespace, deployment);
    return hpa && { name: hpa.metadata?.name ?? '', metrics: hpa.spec?.metrics };
  }

  private autoscalerOf(namespace: string, deployment: string): V2HorizontalPodAutoscaler | undefined {
    return this.autoscalers.list(namespace).find((hpa) => hpa.spec?.scaleTargetRef.kind === 'Deployment' && hpa.spec.scaleTargetRef.name === deployment);
  }

  /** Running agent pods with an IP. */
  agents(): ActivatorEndpoint[] {
    return this.agentPods
      .list()
      .filter((pod) => pod.status?.phase === 'Running' && pod.status.podIP && !pod.metadata?.deletionTimestamp)
      .map((pod) => ({ ip: pod.status!.podIP!, nodeName: pod.spec?.nodeName }));
  }
}
