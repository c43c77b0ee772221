// The EndpointSlice that sends a sleeping workload's Service traffic to the agents' activator, and
// what an agent reads back from it. kube-proxy merges every slice labelled with the Service's name,
// so this one sits beside the EndpointSlice controller's (empty, at zero replicas) without touching
// it; its managed-by label tells that controller to leave it alone. Each of its ports carries a
// Service port's name and that Service port's own activator port (src/core/activator-ports.ts):
// kube-proxy sends the Service port's traffic to agent:thatPort, and the agent knows from the port
// alone whose traffic it is.

import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { ACTIVATOR_SLICE_LABEL, ACTIVATOR_WORKLOAD_ANNOTATION, SERVICE_NAME_LABEL } from '../protocol/activator.ts';
import { parseWorkloadKey, type WorkloadKey } from '../protocol/workload.ts';
import type { ServicePorts } from './activator-ports.ts';

export const MANAGED_BY = 'ebb.dev';

export interface ActivatorEndpoint {
  ip: string;
  nodeName?: string;
}

export interface ServiceRef {
  namespace: string;
  name: string;
}

export const activatorSliceName = (serviceName: string) => `${serviceName}-ebb-activator`;

export const serviceKey = (service: ServiceRef): string => `${service.namespace}/${service.name}`;

/** The Service's port names, as the slice's ports must carry them ('' for an unnamed port). */
export function servicePortNames(service: V1Service): string[] {
  return (service.spec?.ports ?? []).map((port) => port.name ?? '');
}

/** `ports` holds an activator port for every name in servicePortNames(service). */
export function activatorSlice(service: V1Service, workload: WorkloadKey, agents: readonly ActivatorEndpoint[], ports: ServicePorts): V1EndpointSlice {
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
      // The agents read it to tell which workload to wake.
      annotations: { [ACTIVATOR_WORKLOAD_ANNOTATION]: workload },
      // Deleted with its Service.
      ownerReferences: service.metadata?.uid ? [{ apiVersion: 'v1', kind: 'Service', name: serviceName, uid: service.metadata.uid }] : undefined,
    },
    addressType: 'IPv4',
    endpoints: [...agents]
      .sort((a, b) => a.ip.localeCompare(b.ip))
      .map((agent) => ({ addresses: [agent.ip], conditions: { ready: true }, nodeName: agent.nodeName })),
    ports: (service.spec?.ports ?? []).flatMap((port) => {
      const activatorPort = ports.get(port.name ?? '');
      return activatorPort === undefined ? [] : [{ name: port.name ?? '', port: activatorPort, protocol: port.protocol ?? 'TCP' }];
    }),
  };
}

/** What an activator slice says: whose traffic arrives on which agent port. */
export interface ActivatorSliceView {
  service: ServiceRef;
  workload: WorkloadKey;
  ports: ServicePorts;
  /** The slice's creationTimestamp (ISO 8601): the older of two claims on a port wins. */
  createdAt: string;
}

/**
 * Reads an activator slice; undefined when it is not one ebb could have written. A slice names a
 * workload of its own namespace only: one that names another namespace's workload is ignored, so
 * whoever may write EndpointSlices in one namespace cannot wake, or reach, another's workloads.
 */
export function readActivatorSlice(slice: V1EndpointSlice): ActivatorSliceView | undefined {
  const namespace = slice.metadata?.namespace;
  const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  const workload = parseWorkloadKey(slice.metadata?.annotations?.[ACTIVATOR_WORKLOAD_ANNOTATION] ?? '');
  if (!namespace || !name || !workload || !workload.startsWith(`${namespace}/`)) return undefined;
  const ports = new Map<string, number>();
  for (const port of slice.ports ?? []) {
    if (typeof port.port === 'number' && Number.isInteger(port.port) && port.port >= 1 && port.port <= 65_535) ports.set(port.name ?? '', port.port);
  }
  const created = slice.metadata?.creationTimestamp;
  return { service: { namespace, name }, workload, ports, createdAt: created ? new Date(created).toISOString() : '' };
}
