// Where a node's kubelet serves its resource metrics, found as metrics-server finds it
// (kubernetes-sigs/metrics-server pkg/scraper/client): an address of the Node, the port the
// kubelet reports in status.daemonEndpoints, and the path a node may override by annotation
// (KWOK's emulated kubelets serve every node under one port, each at its own path).

import type { V1Node } from '@kubernetes/client-node';
import { fail, ok, type Result } from '../result.ts';

export const RESOURCE_METRICS_PATH_ANNOTATION = 'metrics.k8s.io/resource-metrics-path';
export const DEFAULT_RESOURCE_METRICS_PATH = '/metrics/resource';
/** The kubelet's default port, for a node whose status does not say (metrics-server's default too). */
export const DEFAULT_KUBELET_PORT = 10250;
/** The node's own network first: the agent runs on that node. */
const ADDRESS_PREFERENCE = ['InternalIP', 'InternalDNS', 'Hostname', 'ExternalIP', 'ExternalDNS'];

/** `https://10.0.0.5:10250/metrics/resource`, or why the node does not say where. */
export function kubeletMetricsUrl(node: V1Node): Result<string> {
  const addresses = node.status?.addresses ?? [];
  const address = ADDRESS_PREFERENCE.map((type) => addresses.find((candidate) => candidate.type === type && candidate.address)).find(Boolean)?.address;
  if (!address) return fail(`node ${node.metadata?.name} has no address in its status`);
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port || DEFAULT_KUBELET_PORT;
  const path = node.metadata?.annotations?.[RESOURCE_METRICS_PATH_ANNOTATION] || DEFAULT_RESOURCE_METRICS_PATH;
  if (!path.startsWith('/')) return fail(`node ${node.metadata?.name}: ${RESOURCE_METRICS_PATH_ANNOTATION}=${JSON.stringify(path)} is not a path`);
  const host = address.includes(':') ? `[${address}]` : address;
  return ok(`https://${host}:${port}${path}`);
}
