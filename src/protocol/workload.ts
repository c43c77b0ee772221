// A workload is named `namespace/deployment` everywhere on the wire: in the interceptor's stats,
// the agent's activity report and the wake request.

export type WorkloadKey = `${string}/${string}`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function workloadKey(namespace: string, name: string): WorkloadKey {
  return `${namespace}/${name}`;
}

/** Parses `namespace/name`; undefined when either part is not a valid Kubernetes name. */
export function parseWorkloadKey(text: string): WorkloadKey | undefined {
  const [namespace, name, extra] = text.trim().split('/');
  if (extra !== undefined || !namespace || !name) return undefined;
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) return undefined;
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) return undefined;
  return workloadKey(namespace, name);
}
