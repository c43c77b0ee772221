// The EndpointSlice that sends a sleeping workload's Service traffic to the agents' activator.
// kube-proxy merges every slice labelled with the Service's name, so this one sits beside the
// EndpointSlice controller's (empty, at zero replicas) without touching it; its managed-by label
// tells that controller to leave it alone. Its ports carry the Service's port names, all mapped to
// the activator port: the agent tells workloads apart by the request, not by the port.

import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import {
  ACTIVATOR_CLUSTER_IPS_ANNOTATION,
  ACTIVATOR_SLICE_LABEL,
  ACTIVATOR_WORKLOAD_ANNOTATION,
  SERVICE_NAME_LABEL,
} from '../protocol/activator.ts';
import type { WorkloadKey } from '../protocol/workload.ts';

export const MANAGED_BY = 'ebb.dev';

export interface ActivatorEndpoint {
  ip: string;
  nodeName?: string;
}

export const activatorSliceName = (serviceName: string) => `${serviceName}-ebb-activator`;

export function activatorSlice(
  service: V1Service,
  workload: WorkloadKey,
  agents: readonly ActivatorEndpoint[],
  activatorPort: number,
): V1EndpointSlice {
  const serviceName = service.metadata?.name ?? '';
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: activatorSliceName(serviceName),
      namespace: service.metadata?.namespace,
      labels: {
        [SERVICE_NAME_LABEL]: serviceName,
        'endpointslice.kubernetes.io/managed-by': MANAGED_BY,
        [ACTIVATOR_SLICE_LABEL]: 'true',
      },
      // The agents read these to tell which workload a request that reaches them is for.
      annotations: {
        [ACTIVATOR_WORKLOAD_ANNOTATION]: workload,
        [ACTIVATOR_CLUSTER_IPS_ANNOTATION]: (service.spec?.clusterIPs ?? [service.spec?.clusterIP ?? '']).filter(Boolean).join(','),
      },
      // Deleted with its Service.
      ownerReferences: service.metadata?.uid
        ? [{ apiVersion: 'v1', kind: 'Service', name: serviceName, uid: service.metadata.uid }]
        : undefined,
    },
    addressType: 'IPv4',
    endpoints: [...agents]
      .sort((a, b) => a.ip.localeCompare(b.ip))
      .map((agent) => ({ addresses: [agent.ip], conditions: { ready: true }, nodeName: agent.nodeName })),
    ports: (service.spec?.ports ?? []).map((port) => ({ name: port.name ?? '', port: activatorPort, protocol: port.protocol ?? 'TCP' })),
  };
}
