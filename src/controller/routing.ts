// Switches a workload's Services between its pods and the agents' activator by adding or removing
// ebb's activator EndpointSlice (src/core/activator-slice.ts). Writes only on change: what was last
// ensured is remembered, and on start the slices that already exist are taken as the truth.

import { DiscoveryV1Api, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import { activatorSlice, type ActivatorEndpoint } from '../core/activator-slice.ts';
import { ActivatorSlices } from '../kube/activator-slices.ts';
import { ACTIVATOR_SLICE_LABEL, ACTIVATOR_WORKLOAD_ANNOTATION, SERVICE_NAME_LABEL } from '../protocol/activator.ts';
import type { WorkloadKey } from '../protocol/workload.ts';

export interface RoutingTarget {
  key: WorkloadKey;
  namespace: string;
  services: V1Service[];
}

export class ActivatorRouting {
  private readonly slices: ActivatorSlices;
  /** Per sleeping workload: the Services routed to the activator and the agents they point at. */
  private readonly asleep = new Map<WorkloadKey, { services: string[]; fingerprint: string }>();

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly agents: () => ActivatorEndpoint[],
    private readonly activatorPort: number,
  ) {
    this.slices = new ActivatorSlices(kubeConfig);
  }

  /** Learns which workloads already sleep from the slices in the cluster (after a restart). */
  async load(): Promise<void> {
    const discovery = this.kubeConfig.makeApiClient(DiscoveryV1Api);
    const existing = await discovery.listEndpointSliceForAllNamespaces({ labelSelector: `${ACTIVATOR_SLICE_LABEL}=true` });
    for (const slice of existing.items) {
      const key = slice.metadata?.annotations?.[ACTIVATOR_WORKLOAD_ANNOTATION] as WorkloadKey | undefined;
      const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (!key || !service) continue;
      const entry = this.asleep.get(key) ?? { services: [], fingerprint: '' };
      entry.services.push(service);
      this.asleep.set(key, entry);
    }
  }

  async route(target: RoutingTarget, toActivator: boolean): Promise<void> {
    const current = this.asleep.get(target.key);
    if (!toActivator) {
      if (!current) return;
      await Promise.all(current.services.map((service) => this.slices.remove(target.namespace, service)));
      this.asleep.delete(target.key);
      return;
    }
    const agents = this.agents();
    const services = target.services.map((service) => service.metadata?.name ?? '');
    const fingerprint = JSON.stringify([services, agents]);
    if (current?.fingerprint === fingerprint) return;
    await Promise.all(target.services.map((service) => this.slices.ensure(activatorSlice(service, target.key, agents, this.activatorPort))));
    // Services that no longer select the workload lose their slice.
    const dropped = (current?.services ?? []).filter((service) => !services.includes(service));
    await Promise.all(dropped.map((service) => this.slices.remove(target.namespace, service)));
    this.asleep.set(target.key, { services, fingerprint });
  }
}
