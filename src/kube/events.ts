// Kubernetes Events about the objects ebb acts on, visible in `kubectl describe` and
// `kubectl get events`. Repeats of the same reason and message on the same object within a while
// bump the count of one Event instead of creating many, as the kubelet's recorder does.

import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1ObjectReference } from '@kubernetes/client-node';
import { concurrencyLimit } from './concurrency-limit.ts';
import { answeredWithMetadataOnly } from './metadata-answer.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventTarget {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid?: string;
}

const REPEAT_WINDOW_MS = 10 * 60_000;
/**
 * Events come in bursts (a recommendation for every workload on a leader's first round), and the
 * API client's agent does not queue (src/controller/kube-config.ts): unbounded, each Event of a
 * burst opens its own connection. A few at a time, in order.
 */
const CONCURRENT_WRITES = 8;

export class EventRecorder {
  private readonly core: CoreV1Api;
  private readonly recent = new Map<string, { name: string; count: number; at: number }>();
  private readonly writes = concurrencyLimit(CONCURRENT_WRITES);

  constructor(
    kubeConfig: KubeConfig,
    private readonly component: string,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  record(target: EventTarget, type: EventType, reason: string, message: string, now = Date.now()): Promise<void> {
    return this.writes(() => this.write(target, type, reason, message, now));
  }

  private async write(target: EventTarget, type: EventType, reason: string, message: string, now: number): Promise<void> {
    const key = `${target.namespace}/${target.kind}/${target.name}/${type}/${reason}/${message}`;
    const previous = this.recent.get(key);
    const timestamp = new Date(now);
    if (previous && now - previous.at < REPEAT_WINDOW_MS) {
      previous.count += 1;
      previous.at = now;
      await this.core.patchNamespacedEvent(
        { name: previous.name, namespace: target.namespace, body: { count: previous.count, lastTimestamp: timestamp } },
        answeredWithMetadataOnly(setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
      );
      return;
    }
    const involvedObject: V1ObjectReference = {
      kind: target.kind,
      apiVersion: target.apiVersion,
      namespace: target.namespace,
      name: target.name,
      uid: target.uid,
    };
    const name = `${target.name}.${now.toString(16)}${Math.floor(Math.random() * 0xfff).toString(16)}`;
    await this.core.createNamespacedEvent(
      {
        namespace: target.namespace,
        body: {
          metadata: { name, namespace: target.namespace },
          involvedObject,
          type,
          reason,
          message,
          source: { component: this.component },
          reportingComponent: this.component,
          firstTimestamp: timestamp,
          lastTimestamp: timestamp,
          count: 1,
        },
      },
      answeredWithMetadataOnly(),
    );
    this.recent.set(key, { name, count: 1, at: now });
    this.forgetOlderThan(now - REPEAT_WINDOW_MS);
  }

  private forgetOlderThan(cutoff: number) {
    for (const [key, entry] of this.recent) if (entry.at < cutoff) this.recent.delete(key);
  }
}
