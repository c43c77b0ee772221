// Replicas are read and written through the Deployment's `scale` subresource, guarded by
// resourceVersion: if anyone changed the Deployment since we read it, the write fails with 409 and
// the caller decides again from a fresh read. Never a blind overwrite.

import type { AppsV1Api } from '@kubernetes/client-node';
import { isConflict } from './errors.ts';

export interface ScaleState {
  replicas: number;
  resourceVersion: string;
}

export async function readScale(apps: AppsV1Api, namespace: string, name: string): Promise<ScaleState> {
  const scale = await apps.readNamespacedDeploymentScale({ name, namespace });
  return { replicas: scale.spec?.replicas ?? 0, resourceVersion: scale.metadata?.resourceVersion ?? '' };
}

export type ScaleWrite = { outcome: 'written'; state: ScaleState } | { outcome: 'conflict' };

export async function writeScale(apps: AppsV1Api, namespace: string, name: string, replicas: number, resourceVersion: string): Promise<ScaleWrite> {
  try {
    const scale = await apps.replaceNamespacedDeploymentScale({
      name,
      namespace,
      body: { metadata: { name, namespace, resourceVersion }, spec: { replicas } },
    });
    return { outcome: 'written', state: { replicas: scale.spec?.replicas ?? replicas, resourceVersion: scale.metadata?.resourceVersion ?? '' } };
  } catch (error) {
    if (isConflict(error)) return { outcome: 'conflict' };
    throw error;
  }
}
