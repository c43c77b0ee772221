// controller ↔ agent contract on the activator EndpointSlice: while a workload sleeps, the
// controller adds to each of its Services an EndpointSlice that points at the agents, one
// activator port per Service port (src/core/activator-slice.ts builds and reads it). The agents
// read these slices to learn which port carries which Service port's traffic, and listen there.

/** Label on the controller's activator EndpointSlice (value "true"). */
export const ACTIVATOR_SLICE_LABEL = 'ebb.dev/activator';
/** Annotation on the activator EndpointSlice: the sleeping workload, `namespace/deployment`. */
export const ACTIVATOR_WORKLOAD_ANNOTATION = 'ebb.dev/workload';
/** The standard label tying an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const DEFAULT_AGENT_PORT = 18092;
/**
 * Where the controller finds a port for each sleeping Service port (EBB_ACTIVATOR_PORTS). Below
 * Linux's ephemeral range (32768-60999), so no outgoing connection of an agent ever holds one,
 * and clear of the agent's own port.
 */
export const DEFAULT_ACTIVATOR_PORTS = { first: 20_000, last: 29_999 };
