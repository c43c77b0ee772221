// The cluster's LimitRanges, from an informer, as the container bounds of each namespace (what the
// sidecar and the default requests ebb adds must fit). Computed when a LimitRange changes, never
// per request. A failed watch is restarted after a pause, serving what it has meanwhile.
import { CoreV1Api, makeInformer, type Informer, type KubeConfig, type ObjectCache, type V1LimitRange } from '@kubernetes/client-node';
import { containerBounds, type ContainerBounds } from '../src/core/patch/limit-range.ts';
import { restartOnError } from '../src/kube/restart-on-error.ts';

export class LimitRangeCache {
  private readonly informer: Informer<V1LimitRange> & ObjectCache<V1LimitRange>;
  private readonly bounds = new Map<string, ContainerBounds>();
  private stopped = false;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: { log?: (message: string) => void; restartDelayMs?: number } = {},
  ) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.informer = makeInformer(kubeConfig, '/api/v1/limitranges', () => core.listLimitRangeForAllNamespaces());
    for (const event of ['add', 'update', 'delete'] as const) {
      this.informer.on(event, (range) => this.recompute(range.metadata?.namespace ?? ''));
    }
    restartOnError(this.informer, { what: 'LimitRange informer', isStopped: () => this.stopped, log: this.options.log, delayMs: this.options.restartDelayMs });
  }

  /** Resolves once the LimitRanges have been listed. */
  start(): Promise<void> {
    return this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }

  /** The namespace's container bounds; undefined when it has no LimitRange. */
  containerBounds(namespace: string): ContainerBounds | undefined {
    return this.bounds.get(namespace);
  }

  private recompute(namespace: string): void {
    const ranges = this.informer.list(namespace);
    if (ranges.length === 0) this.bounds.delete(namespace);
    else this.bounds.set(namespace, containerBounds(ranges));
  }
}
