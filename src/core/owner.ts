// Which Deployment a pod belongs to, from what the webhook sees: the pod's controller reference
// names a ReplicaSet, whose own controller reference names the Deployment. When the informer has
// not seen that ReplicaSet yet (it was created a moment ago), the Deployment controller's naming
// rule gives the answer: the ReplicaSet is `<deployment>-<pod-template-hash>`.
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

function controllerOf(meta: V1ObjectMeta | undefined, kind: string): V1OwnerReference | undefined {
  return meta?.ownerReferences?.find((ref) => ref.controller === true && ref.kind === kind && ref.apiVersion === 'apps/v1');
}

/** The name of the ReplicaSet that controls the pod, if one does. */
export function owningReplicaSetName(pod: V1ObjectMeta | undefined): string | undefined {
  return controllerOf(pod, 'ReplicaSet')?.name;
}

/**
 * The owning Deployment's name: from the ReplicaSet's metadata when known (undefined for a
 * ReplicaSet no Deployment controls), else derived from the ReplicaSet name and the pod's hash.
 */
export function owningDeploymentName(pod: V1ObjectMeta | undefined, replicaSet: V1ObjectMeta | undefined): string | undefined {
  const replicaSetName = owningReplicaSetName(pod);
  if (replicaSetName === undefined) return undefined;
  if (replicaSet) return controllerOf(replicaSet, 'Deployment')?.name;
  const hash = pod?.labels?.[POD_TEMPLATE_HASH_LABEL];
  const suffix = `-${hash}`;
  return hash && replicaSetName.endsWith(suffix) && replicaSetName.length > suffix.length ? replicaSetName.slice(0, -suffix.length) : undefined;
}
