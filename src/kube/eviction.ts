// Pods leave only through the Eviction API (`pods/eviction` create): the API server checks the
// PodDisruptionBudgets and answers 429 while one allows no disruption. The uid precondition makes
// the eviction hit the pod that was planned, never a successor under the same name.

import type { CoreV1Api } from '@kubernetes/client-node';
import { isConflict, isNotFound, isTooManyRequests, statusMessage } from './errors.ts';

export type EvictionResult =
  | { outcome: 'evicted' }
  /** 429: a PodDisruptionBudget allows no disruption now (or the API server sheds load); try later. */
  | { outcome: 'refused'; message: string }
  /** The pod is gone, or is no longer the one planned. */
  | { outcome: 'gone' }
  | { outcome: 'failed'; message: string };

export async function evictPod(core: CoreV1Api, pod: { namespace: string; name: string; uid: string }): Promise<EvictionResult> {
  const { namespace, name, uid } = pod;
  try {
    await core.createNamespacedPodEviction({ name, namespace, body: { metadata: { name, namespace }, deleteOptions: { preconditions: { uid } } } });
    return { outcome: 'evicted' };
  } catch (error) {
    if (isTooManyRequests(error)) return { outcome: 'refused', message: statusMessage(error) };
    if (isNotFound(error) || isConflict(error)) return { outcome: 'gone' };
    return { outcome: 'failed', message: statusMessage(error) };
  }
}
