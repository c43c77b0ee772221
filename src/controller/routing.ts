// Switches a workload's Services between its pods and the agents' activator by adding or removing
// ebb's activator EndpointSlice (src/core/activator-slice.ts), and gives each port of a sleeping
// Service its own agent port from the configured range (src/core/activator-ports.ts): the agents
// tell Services apart by that port alone. Writes only on change.
//
// The cluster holds the truth: a watch on the activator slices shows the ports every controller
// gave out (a previous leader's too) and which Services of a workload sleep. The ports this
// process gives out are also kept until it removes their slice: its own writes reach the watch a
// moment later, and two Services put to sleep in the same tick must not get the same port.

import type { Informer, KubeConfig, ObjectCache, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { assignActivatorPorts, inPortRange, type PortRange, type ServicePorts } from '../core/activator-ports.ts';
import { activatorSlice, readActivatorSlice, serviceKey, servicePortNames, type ActivatorEndpoint } from '../core/activator-slice.ts';
import { activatorSliceInformer, ActivatorSlices } from '../kube/activator-slices.ts';
import { restartOnError } from '../kube/restart-on-error.ts';
import type { WorkloadKey } from '../protocol/workload.ts';

export interface RoutingTarget {
  key: WorkloadKey;
  namespace: string;
  /** The Services selecting the workload's pods: looked up only when it goes to the activator. */
  services(): V1Service[];
}

/** What the watched slices say, indexed. */
interface SliceIndex {
  /** Per Service (`namespace/name`), its activator ports. */
  portsOf: Map<string, ServicePorts>;
  /** Per workload, the names of its Services that have a slice. */
  servicesOf: Map<WorkloadKey, string[]>;
}

export class ActivatorRouting {
  private readonly slices: ActivatorSlices;
  private readonly watched: Informer<V1EndpointSlice> & ObjectCache<V1EndpointSlice>;
  private index: SliceIndex | undefined;
  private stopped = false;
  /** Ports this process gave out, per Service, until it removes the Service's slice. */
  private readonly given = new Map<string, ServicePorts>();
  /** Per workload routed to the activator: its Services and what was last ensured. */
  private readonly written = new Map<WorkloadKey, { services: string[]; fingerprint: string }>();
  /** The last port given out (see PortRequest.after). */
  private after: number;

  constructor(
    kubeConfig: KubeConfig,
    private readonly agents: () => ActivatorEndpoint[],
    private readonly range: PortRange,
    log: (message: string) => void = () => undefined,
  ) {
    this.slices = new ActivatorSlices(kubeConfig);
    this.after = range.last;
    this.watched = activatorSliceInformer(kubeConfig);
    for (const verb of ['add', 'update', 'delete'] as const) this.watched.on(verb, () => (this.index = undefined));
    restartOnError(this.watched, { what: 'activator endpointslice informer', isStopped: () => this.stopped, log });
  }

  /** Watches the slices in the cluster; resolves once they are listed. */
  async load(): Promise<void> {
    await this.watched.start();
    // After a restart, new ports are given after the highest one in use (a freed port is not reused at once).
    const inUse = [...this.sliceIndex().portsOf.values()].flatMap((ports) => [...ports.values()]).filter((port) => inPortRange(this.range, port));
    if (inUse.length > 0) this.after = Math.max(...inUse);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watched.stop();
  }

  route(target: RoutingTarget, toActivator: boolean): Promise<void> | undefined {
    const sliced = this.sliceIndex().servicesOf.get(target.key) ?? [];
    // Most workloads are awake with nothing routed: every tick asks, and there is nothing to undo.
    if (!toActivator && !this.written.has(target.key) && sliced.length === 0) return undefined;
    return this.reroute(target, toActivator, sliced);
  }

  private async reroute(target: RoutingTarget, toActivator: boolean, sliced: readonly string[]): Promise<void> {
    const asleep = [...new Set([...(this.written.get(target.key)?.services ?? []), ...sliced])];
    if (!toActivator) {
      await this.removeSlices(target, asleep);
      this.written.delete(target.key);
      return;
    }
    const agents = this.agents();
    // Ports are given synchronously, before any await: routes of other workloads run meanwhile.
    const routed = target.services().map((service) => ({ service, ports: this.portsFor(target.namespace, service) }));
    const services = routed.map(({ service }) => service.metadata?.name ?? '');
    const fingerprint = JSON.stringify([routed.map(({ ports }, i) => [services[i], [...ports]]), agents]);
    if (this.written.get(target.key)?.fingerprint === fingerprint) return;
    await Promise.all(routed.map(({ service, ports }) => this.slices.ensure(activatorSlice(service, target.key, agents, ports))));
    // Services that no longer select the workload lose their slice.
    await this.removeSlices(
      target,
      asleep.filter((service) => !services.includes(service)),
    );
    this.written.set(target.key, { services, fingerprint });
  }

  private async removeSlices(target: RoutingTarget, services: readonly string[]): Promise<void> {
    await Promise.all(services.map((service) => this.slices.remove(target.namespace, service)));
    for (const service of services) this.given.delete(serviceKey({ namespace: target.namespace, name: service }));
  }

  /** The Service's activator ports: those it holds while still valid, new ones for the rest. */
  private portsFor(namespace: string, service: V1Service): ServicePorts {
    const key = serviceKey({ namespace, name: service.metadata?.name ?? '' });
    const names = servicePortNames(service);
    const current = this.given.get(key) ?? this.sliceIndex().portsOf.get(key);
    if (current?.size === names.length && names.every((name) => inPortRange(this.range, current.get(name) ?? 0))) {
      this.given.set(key, current);
      return current;
    }
    const taken = new Set<number>();
    for (const ports of [this.sliceIndex().portsOf, this.given]) {
      for (const [other, held] of ports) if (other !== key) for (const port of held.values()) taken.add(port);
    }
    const assigned = assignActivatorPorts({ range: this.range, names, current, taken, after: this.after });
    if (!assigned.ok) throw new Error(`Service ${key} cannot be routed to the activator: ${assigned.error}; widen EBB_ACTIVATOR_PORTS`);
    this.after = assigned.value.after;
    this.given.set(key, assigned.value.ports);
    return assigned.value.ports;
  }

  private sliceIndex(): SliceIndex {
    if (this.index) return this.index;
    const index: SliceIndex = { portsOf: new Map(), servicesOf: new Map() };
    for (const slice of this.watched.list()) {
      const view = readActivatorSlice(slice);
      if (!view) continue;
      index.portsOf.set(serviceKey(view.service), view.ports);
      index.servicesOf.set(view.workload, [...(index.servicesOf.get(view.workload) ?? []), view.service.name]);
    }
    this.index = index;
    return index;
  }
}
