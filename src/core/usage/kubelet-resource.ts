// What the kubelet's /metrics/resource says about each container: its cumulative CPU time, its
// working set and when it started (labels `namespace`, `pod`, `container`). The `pod_*` and
// `node_*` series are not needed: ebb sizes containers.

import type { PrometheusSample } from './prometheus-text.ts';

/** The series read, each with the part of a container's reading it gives. */
const SERIES_READ = new Map<string, 'cpuSeconds' | 'memoryBytes' | 'startedAt'>([
  ['container_cpu_usage_seconds_total', 'cpuSeconds'],
  ['container_memory_working_set_bytes', 'memoryBytes'],
  ['container_start_time_seconds', 'startedAt'],
]);

export interface Reading {
  value: number;
  /** Epoch ms: the sample's timestamp, else the scrape's time. */
  at: number;
}

export interface ContainerReading {
  namespace: string;
  pod: string;
  container: string;
  /** Core-seconds since the container started. */
  cpuSeconds?: Reading;
  memoryBytes?: Reading;
  /** Epoch ms at which the container started. */
  startedAt?: number;
}

/** `namespace/pod/container`: the key of a container across scrapes. */
export const containerKey = (reading: Pick<ContainerReading, 'namespace' | 'pod' | 'container'>): string =>
  `${reading.namespace}/${reading.pod}/${reading.container}`;

/**
 * The readings per container. A value that is not a finite, non-negative number is no reading at
 * all (never a zero): usage the kubelet could not measure is unknown, not idle.
 */
export function containerReadings(samples: readonly PrometheusSample[], scrapedAt: number): ContainerReading[] {
  const byContainer = new Map<string, ContainerReading>();
  for (const sample of samples) {
    const field = SERIES_READ.get(sample.name);
    if (!field) continue;
    const { namespace, pod, container } = sample.labels;
    if (!namespace || !pod || !container || !Number.isFinite(sample.value) || sample.value < 0) continue;
    const key = containerKey({ namespace, pod, container });
    const reading = byContainer.get(key) ?? { namespace, pod, container };
    byContainer.set(key, reading);
    const at = sample.timestampMs ?? scrapedAt;
    if (field === 'startedAt') reading.startedAt = sample.value * 1000;
    else reading[field] = { value: sample.value, at };
  }
  return [...byContainer.values()];
}
