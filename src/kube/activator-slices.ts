// Creates, updates and removes the activator EndpointSlices (see src/core/activator-slice.ts), and
// watches them: the controller's routing, the agents' activator and the sandbox's kube-proxy read them.

import { DiscoveryV1Api, ListWatch, Watch, type KubeConfig, type V1EndpointSlice } from '@kubernetes/client-node';
import { activatorSliceName } from '../core/activator-slice.ts';
import { ACTIVATOR_SLICE_LABEL } from '../protocol/activator.ts';
import { isConflict, isNotFound } from './errors.ts';

/**
 * An informer cache over ebb's activator EndpointSlices in every namespace (selected by their label,
 * in the list and the watch alike); not started: the caller adds its handlers, then starts it.
 */
export function activatorSliceInformer(kubeConfig: KubeConfig): ListWatch<V1EndpointSlice> {
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  const labelSelector = `${ACTIVATOR_SLICE_LABEL}=true`;
  return new ListWatch<V1EndpointSlice>(
    '/apis/discovery.k8s.io/v1/endpointslices',
    new Watch(kubeConfig),
    () => discovery.listEndpointSliceForAllNamespaces({ labelSelector }),
    false,
    labelSelector,
  );
}

export class ActivatorSlices {
  private readonly discovery: DiscoveryV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  }

  /** Makes the slice exist as given; creating it if missing, replacing it if it differs. */
  async ensure(slice: V1EndpointSlice): Promise<void> {
    const namespace = slice.metadata?.namespace ?? '';
    const name = slice.metadata?.name ?? '';
    try {
      const current = await this.discovery.readNamespacedEndpointSlice({ name, namespace });
      if (essentials(current) === essentials(slice)) return;
      await this.discovery.replaceNamespacedEndpointSlice({
        name,
        namespace,
        body: { ...slice, metadata: { ...slice.metadata, resourceVersion: current.metadata?.resourceVersion } },
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await this.discovery.createNamespacedEndpointSlice({ namespace, body: slice });
      } catch (createError) {
        if (!isConflict(createError)) throw createError; // created meanwhile: fine, the next pass compares
      }
    }
  }

  async remove(namespace: string, serviceName: string): Promise<void> {
    try {
      await this.discovery.deleteNamespacedEndpointSlice({ name: activatorSliceName(serviceName), namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/** What routing depends on, in a comparable form (the API server adds defaults we do not set). */
function essentials(slice: V1EndpointSlice): string {
  return JSON.stringify([
    (slice.endpoints ?? []).map((endpoint) => [endpoint.addresses, endpoint.conditions?.ready ?? true, endpoint.nodeName ?? '']),
    (slice.ports ?? []).map((port) => [port.name ?? '', port.port, port.protocol ?? 'TCP']),
  ]);
}
