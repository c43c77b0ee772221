// Replicas are read and written through the Deployment's `scale` subresource. A write is one JSON
// Patch that tests the count the decision started from and then sets the new one: the API server
// applies it to the Deployment as it is at that moment, retrying on its own when other writers
// (ebb's status annotation, the Deployment controller) moved the resourceVersion. If anyone changed
// the count since the caller saw it, nothing is written and the caller decides again from what it
// sees next. Never a blind overwrite, and one round trip instead of a read and a guarded replace.

import { PatchStrategy, setHeaderOptions, type AppsV1Api } from '@kubernetes/client-node';
import { apiStatus, statusCode } from './errors.ts';

export async function readReplicas(apps: AppsV1Api, namespace: string, name: string): Promise<number> {
  const scale = await apps.readNamespacedDeploymentScale({ name, namespace });
  return scale.spec?.replicas ?? 0;
}

/** 'moved': the count was no longer `from`, and nothing was written. */
export type ScaleMove = 'written' | 'moved';

export async function moveReplicas(apps: AppsV1Api, namespace: string, name: string, change: { from: number; to: number }): Promise<ScaleMove> {
  // autoscaling/v1 leaves `replicas` out of a Scale at zero, and the API server's JSON Patch
  // passes a `test` for null on a member that is absent; `add` sets a member present or not.
  const patch = [
    { op: 'test', path: '/spec/replicas', value: change.from === 0 ? null : change.from },
    { op: 'add', path: '/spec/replicas', value: change.to },
  ];
  try {
    await apps.patchNamespacedDeploymentScale({ name, namespace, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
    return 'written';
  } catch (error) {
    if (isFailedTest(error)) return 'moved';
    throw error;
  }
}

/**
 * A failed `test` is a 422 without causes; the same code for a value the API server refuses
 * (a negative count) names the field in its causes, and is an error, not a move.
 */
const isFailedTest = (error: unknown) => statusCode(error) === 422 && (apiStatus(error)?.details?.causes ?? []).length === 0;
