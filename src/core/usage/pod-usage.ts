// One kubelet scrape → the usage of the opted-in pods on the node, and the CPU histories to keep
// for the next scrape. Pure: the caller passes the readings and which workload each pod serves.

import type { ContainerUsage, PodUsage } from '../../protocol/usage.ts';
import type { WorkloadKey } from '../../protocol/workload.ts';
import { cpuCores, nextCpuHistory, type CpuHistory } from './cpu-rate.ts';
import { containerKey, type ContainerReading } from './kubelet-resource.ts';

export interface UsageStep {
  /** Only the containers of this scrape: a container gone from the kubelet's answer is forgotten. */
  histories: Map<string, CpuHistory>;
  pods: PodUsage[];
}

/**
 * @param workloadOf the workload of an opted-in pod (`namespace/name`); undefined for any other
 * pod, whose containers are skipped.
 */
export function stepUsage(
  histories: ReadonlyMap<string, CpuHistory>,
  readings: readonly ContainerReading[],
  workloadOf: (pod: string) => WorkloadKey | undefined,
): UsageStep {
  const next = new Map<string, CpuHistory>();
  const pods = new Map<string, PodUsage>();
  for (const reading of readings) {
    const pod = `${reading.namespace}/${reading.pod}`;
    const workload = workloadOf(pod);
    if (!workload) continue;
    const key = containerKey(reading);
    const history = reading.cpuSeconds ? nextCpuHistory(histories.get(key), reading.cpuSeconds, reading.startedAt) : undefined;
    if (history) next.set(key, history);
    const at = reading.cpuSeconds?.at ?? reading.memoryBytes?.at;
    if (at === undefined) continue;
    const usage: ContainerUsage = { container: reading.container, at };
    const cores = cpuCores(history);
    if (cores !== undefined) usage.cpuCores = cores;
    if (reading.memoryBytes) usage.memoryBytes = reading.memoryBytes.value;
    const entry = pods.get(pod) ?? { pod, workload, containers: [] };
    entry.containers.push(usage);
    pods.set(pod, entry);
  }
  const sorted = [...pods.values()].sort((a, b) => a.pod.localeCompare(b.pod));
  for (const entry of sorted) entry.containers.sort((a, b) => a.container.localeCompare(b.container));
  return { histories: next, pods: sorted };
}
