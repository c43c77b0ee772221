// Which interceptors the agent scrapes. In a cluster: the injected pods on this node, from a pod
// informer filtered server-side by spec.nodeName. In process-level tests: a fixed list.
// The workload a target belongs to is not taken from here: each interceptor says it in /stats.

import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { ADMIN_PORT_NAME, DEFAULT_ADMIN_PORT, INJECTED_ANNOTATION } from '../../src/protocol/sidecar.ts';
import { RestartingInformer } from './restarting-informer.ts';
import type { Log } from '../../src/program/log.ts';

export interface ScrapeTarget {
  /** `namespace/pod`, or the address for static targets. */
  pod: string;
  /** Base URL of the interceptor's admin port, e.g. http://10.1.2.3:18090. */
  adminUrl: string;
}

export interface TargetDiscovery {
  targets(): readonly ScrapeTarget[];
  start(): Promise<void>;
  stop(): void;
}

/** `host:port,host:port` → targets; for tests and for nodes without an API server. */
export class StaticDiscovery implements TargetDiscovery {
  private readonly list: ScrapeTarget[];

  constructor(addresses: readonly string[]) {
    this.list = addresses.map((address) => ({ pod: address, adminUrl: `http://${address}` }));
  }

  targets(): readonly ScrapeTarget[] {
    return this.list;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): void {}
}

/** The admin address of an injected, running pod, or undefined if it has none (yet). */
export function interceptorTarget(pod: V1Pod): ScrapeTarget | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  if (!(INJECTED_ANNOTATION in annotations)) return undefined;
  const ip = pod.status?.podIP;
  if (!ip || pod.status?.phase !== 'Running') return undefined;
  // The sidecar is a native sidecar (init container) or a plain container: look in both.
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const adminPort = containers.flatMap((c) => c.ports ?? []).find((p) => p.name === ADMIN_PORT_NAME)?.containerPort ?? DEFAULT_ADMIN_PORT;
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, adminUrl: `http://${host}:${adminPort}` };
}

export class KubePodDiscovery implements TargetDiscovery {
  private readonly informer: RestartingInformer<V1Pod>;

  constructor(kubeConfig: KubeConfig, nodeName: string, log: Log) {
    const api = kubeConfig.makeApiClient(CoreV1Api);
    const fieldSelector = `spec.nodeName=${nodeName}`;
    // The watch must carry the same field selector as the list: ListWatch passes it to both.
    const cache = new ListWatch<V1Pod>(
      '/api/v1/pods',
      new Watch(kubeConfig),
      () => api.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    this.informer = new RestartingInformer(cache, 'pod', log);
  }

  targets(): readonly ScrapeTarget[] {
    return this.informer.cache.list().flatMap((pod) => interceptorTarget(pod) ?? []);
  }

  /** Every pod bound to this node, as the informer has it (the usage collector reads their statuses). */
  pods(): readonly V1Pod[] {
    return this.informer.cache.list();
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): void {
    this.informer.stop();
  }
}
