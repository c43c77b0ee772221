// controller ↔ agent contract on the activator EndpointSlice: while a workload sleeps, the
// controller adds to each of its Services an EndpointSlice that points at the agents' activator
// port. The agent reads these slices to learn which Services are asleep and which workload
// each belongs to.

/** Label on the controller's activator EndpointSlice (value "true"). */
export const ACTIVATOR_SLICE_LABEL = 'ebb.dev/activator';
/** Annotation on the activator EndpointSlice: the sleeping workload, `namespace/deployment`. */
export const ACTIVATOR_WORKLOAD_ANNOTATION = 'ebb.dev/workload';
/** The standard label tying an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Explicit routing header, mainly for tests and for callers that know the workload. */
export const WORKLOAD_HEADER = 'x-ebb-workload';
/** Pod annotation written by the webhook on every injected pod. */
export { INJECTED_ANNOTATION } from '../core/annotations.ts';
export const DEFAULT_ACTIVATOR_PORT = 18091;
export const DEFAULT_AGENT_PORT = 18092;
/** Annotation on the activator EndpointSlice: the Service's ClusterIPs, comma-separated. */
export const ACTIVATOR_CLUSTER_IPS_ANNOTATION = 'ebb.dev/cluster-ips';
