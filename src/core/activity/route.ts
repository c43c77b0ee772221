// Which sleeping Service a connection that reached the activator is for: the agent port it arrived
// on, and nothing the client wrote. kube-proxy sends the traffic of a sleeping Service port to
// agent:port, where port is what the controller recorded for that Service port on the Service's
// activator EndpointSlice (src/core/activator-slice.ts), so the port names the Service port the
// client dialed. Host and other headers take no part: a client reaches only the Service it dialed.
//
// The agent listens on the port of every activator slice it sees, one Service port per port:
// - between two slices that claim a port (the controller never gives out a taken one: the other is
//   a stale or forged slice), the older keeps it;
// - a Service stays on its port for `graceMs` after its slice went away (it woke up): kube-proxy
//   may still send a few requests there, and established connections keep going there; they are
//   forwarded to its pods instead of refused. A slice that claims the port ends that at once.
// Pure: the slices and the time come in, the routes go out.

import type { WorkloadKey } from '../../protocol/workload.ts';
import { serviceKey, type ActivatorSliceView, type ServiceRef } from '../activator-slice.ts';

export interface SleepingService {
  workload: WorkloadKey;
  /** null for a statically configured workload (tests) that has no Service. */
  service: ServiceRef | null;
  /** The Service port whose traffic arrives ('' for an unnamed port, and for a static workload). */
  portName: string;
}

export interface ActivatorRoute {
  /** The agent port (0 for a static workload that lets the system pick one). */
  port: number;
  target: SleepingService;
  /** When its slice went away (the time passed in); undefined while the slice exists. */
  awakeSince?: number;
}

/** One name per target, for maps keyed by it: held-request queues, listeners. */
export function targetKey(target: SleepingService): string {
  return target.service ? `${target.workload} ${serviceKey(target.service)}:${target.portName}` : target.workload;
}

export interface RouteTable {
  routes: ActivatorRoute[];
  /** Claims that lost their port to an older one, in words, for the log. */
  conflicts: string[];
}

export function activatorRoutes(previous: readonly ActivatorRoute[], slices: readonly ActivatorSliceView[], nowMs: number, graceMs: number): RouteTable {
  const byPort = new Map<number, ActivatorRoute>();
  const conflicts: string[] = [];
  const oldestFirst = [...slices].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || serviceKey(a.service).localeCompare(serviceKey(b.service)));
  for (const slice of oldestFirst) {
    for (const [portName, port] of slice.ports) {
      const holder = byPort.get(port);
      if (holder) {
        conflicts.push(`port ${port}: the activator slice of Service ${serviceKey(slice.service)} claims the port of ${targetKey(holder.target)}; ignored`);
        continue;
      }
      byPort.set(port, { port, target: { workload: slice.workload, service: slice.service, portName } });
    }
  }
  for (const route of previous) {
    const live = byPort.get(route.port);
    if (live) continue;
    const awakeSince = route.awakeSince ?? nowMs;
    if (nowMs - awakeSince <= graceMs) byPort.set(route.port, { ...route, awakeSince });
  }
  return { routes: [...byPort.values()].sort((a, b) => a.port - b.port), conflicts };
}

/** How many Services the routes serve (a Service with two ports has two routes). */
export function servicesRouted(routes: readonly ActivatorRoute[]): number {
  return new Set(routes.map((route) => (route.target.service ? serviceKey(route.target.service) : route.target.workload))).size;
}
