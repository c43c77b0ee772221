// Which sleeping workload a request that reached the activator is for.
//
// kube-proxy DNATs traffic for a sleeping Service to an agent's activator port, so the original
// destination (the ClusterIP and Service port) is gone by the time the agent accepts the socket
// (recovering it needs SO_ORIGINAL_DST, i.e. native code). What survives is what the client
// wrote, in this order of trust:
//   1. `X-Ebb-Workload: ns/deployment` — explicit, for tests and callers that know;
//   2. the Host header naming the Service: `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<cluster domain>`,
//      or a bare `svc` when exactly one sleeping Service has that name (clients in the same
//      namespace use it; the namespace is not in the request, so a clash is refused);
//   3. the Host header carrying a ClusterIP (clients that dial the IP): matched against the
//      ClusterIPs the controller records on the activator EndpointSlice.
// Only Services that are asleep (have an activator EndpointSlice) are served: anything else is
// refused at once rather than held. Pure.

import type { WorkloadKey } from '../../protocol/workload.ts';

export interface ServiceRef {
  namespace: string;
  name: string;
}

export interface SleepingService {
  workload: WorkloadKey;
  /** null for a statically configured workload (tests) that has no Service. */
  service: ServiceRef | null;
  clusterIPs: readonly string[];
}

export type RouteDecision = { found: true; target: SleepingService } | { found: false; reason: string };

/** The host part of a Host header, lower-cased, without port or IPv6 brackets. */
export function hostName(hostHeader: string): string {
  const host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']') > 0 ? host.indexOf(']') : undefined);
  const colon = host.indexOf(':');
  // More than one colon without brackets: a bare IPv6 address, no port.
  if (colon >= 0 && host.indexOf(':', colon + 1) < 0) return host.slice(0, colon);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

export function routeRequest(
  hostHeader: string | undefined,
  workloadHeader: WorkloadKey | undefined,
  sleeping: readonly SleepingService[],
): RouteDecision {
  if (workloadHeader) {
    const target = sleeping.find((s) => s.workload === workloadHeader);
    return target ? { found: true, target } : { found: false, reason: `workload ${workloadHeader} is not asleep behind this activator` };
  }
  if (!hostHeader) return { found: false, reason: 'the request has no Host header to tell which Service it is for' };
  const host = hostName(hostHeader);

  const byIP = sleeping.find((s) => s.clusterIPs.includes(host));
  if (byIP) return { found: true, target: byIP };

  const labels = host.split('.');
  const [name, namespace, svcLabel] = labels;
  if (!name) return { found: false, reason: `cannot read a Service name from Host "${hostHeader}"` };
  if (labels.length === 1) {
    const matches = sleeping.filter((s) => s.service?.name === name);
    if (matches.length === 1 && matches[0]) return { found: true, target: matches[0] };
    return matches.length === 0
      ? { found: false, reason: `no sleeping Service is named ${name}` }
      : { found: false, reason: `${matches.length} sleeping Services are named ${name}; use ${name}.<namespace>` };
  }
  if (labels.length > 2 && svcLabel !== 'svc') return { found: false, reason: `Host "${hostHeader}" is not a Service name (svc.ns[.svc[.cluster-domain]])` };
  const target = sleeping.find((s) => s.service?.name === name && s.service.namespace === namespace);
  return target ? { found: true, target } : { found: false, reason: `Service ${namespace}/${name} is not asleep behind this activator` };
}
