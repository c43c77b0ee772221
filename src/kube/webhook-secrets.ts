// Reading and writing the webhook's certificate Secrets (certs/webhook-secrets.ts says what they
// hold) by name, as RBAC allows: get and update on those names, create in the namespace. A write
// never overwrites what another writer stored meanwhile: a new Secret is created (409 if someone
// was first), an existing one replaced at the resourceVersion it was read at (409 if it moved);
// either way the caller reads again.

import type { CoreV1Api } from '@kubernetes/client-node';
import { isConflict, isNotFound } from './errors.ts';

export interface StoredSecret {
  /** The data, decoded to text. */
  text: Record<string, string>;
  resourceVersion: string;
  /** Kept on replace: a Secret's type cannot change. */
  type?: string;
}

export type SecretWrite = 'written' | 'conflict';

const LABELS = { 'app.kubernetes.io/part-of': 'ebb', 'app.kubernetes.io/managed-by': 'ebb-controller' };

export async function readSecret(core: CoreV1Api, namespace: string, name: string): Promise<StoredSecret | undefined> {
  try {
    const secret = await core.readNamespacedSecret({ name, namespace });
    const text = Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
    return { text, resourceVersion: secret.metadata?.resourceVersion ?? '', type: secret.type };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Creates the Secret (`read` undefined) or replaces the one read; 'conflict' when someone else wrote first. */
export async function writeSecret(
  core: CoreV1Api,
  namespace: string,
  name: string,
  text: Record<string, string>,
  read: StoredSecret | undefined,
): Promise<SecretWrite> {
  const body = {
    metadata: { name, namespace, labels: LABELS, ...(read ? { resourceVersion: read.resourceVersion } : {}) },
    type: read?.type ?? 'kubernetes.io/tls',
    data: Object.fromEntries(Object.entries(text).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
  };
  try {
    if (read) await core.replaceNamespacedSecret({ name, namespace, body });
    else await core.createNamespacedSecret({ namespace, body });
    return 'written';
  } catch (error) {
    if (isConflict(error)) return 'conflict';
    throw error;
  }
}
