// agent → controller: what `GET /usage` on the agent answers (authenticated, see auth.ts): the
// CPU and memory the node's kubelet reports for the containers of opted-in pods, and OOM kills.

import type { WorkloadKey } from './workload.ts';

export const USAGE_PATH = '/usage';

export interface ContainerUsage {
  container: string;
  /** Cores: Δcontainer_cpu_usage_seconds_total / Δtime between the kubelet's two newest samples; absent when unknown (first sample, a restart, a decrease — never negative, never zero-for-unknown). */
  cpuCores?: number;
  /** container_memory_working_set_bytes. */
  memoryBytes?: number;
  /** Epoch ms of the kubelet sample (its timestamp, else the scrape time). */
  at: number;
}

export interface PodUsage {
  /** `namespace/name`. */
  pod: string;
  workload: WorkloadKey;
  containers: ContainerUsage[];
}

export interface OomKill {
  pod: string;
  workload: WorkloadKey;
  container: string;
  at: number;
  restartCount: number;
  memoryRequestBytes?: number;
  memoryLimitBytes?: number;
}

export interface UsageReport {
  node: string;
  generatedAt: number;
  /** Epoch ms of the last successful kubelet scrape; null: none yet. */
  scrapedAt: number | null;
  /** The last scrape failed (pods carry the last known figures, or none): missing data, never zero usage. */
  stale: boolean;
  error?: string;
  pods: PodUsage[];
  /** OOM kills seen in the last 10 minutes; the controller de-duplicates by pod/container/restartCount. */
  ooms: OomKill[];
}
