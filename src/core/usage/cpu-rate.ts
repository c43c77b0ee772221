// CPU cores from a cumulative counter, the way metrics-server reads the kubelet
// (kubernetes-sigs/metrics-server pkg/storage): keep the two newest distinct samples of each
// container; the rate is Δcore-seconds / Δtime between them. Unknown — never zero, never
// negative — on the first sample, after a restart, and when the counter went down.

import type { Reading } from './kubelet-resource.ts';

export interface CpuHistory {
  previous?: Reading;
  latest: Reading;
  /** Epoch ms the container started, as of `latest`. */
  startedAt?: number;
}

/**
 * The history after one more sample. A sample no newer than the latest is the kubelet's cached
 * one served again (it refreshes its stats every 10-15 s): the history stays, and so does the rate.
 * A container that started at or after the latest sample is a new container (a restart): its
 * counter starts again from zero, so the old samples say nothing about it.
 */
export function nextCpuHistory(history: CpuHistory | undefined, sample: Reading, startedAt: number | undefined): CpuHistory {
  if (!history) return { latest: sample, startedAt };
  if (sample.at <= history.latest.at) return history;
  const restarted = startedAt !== undefined && startedAt >= history.latest.at;
  return restarted ? { latest: sample, startedAt } : { previous: history.latest, latest: sample, startedAt };
}

/** Cores between the two newest samples; undefined when unknown (one sample, or a decrease, which metrics-server drops too). */
export function cpuCores(history: CpuHistory | undefined): number | undefined {
  const previous = history?.previous;
  if (!history || !previous) return undefined;
  const seconds = history.latest.value - previous.value;
  const elapsedMs = history.latest.at - previous.at;
  if (seconds < 0 || elapsedMs <= 0) return undefined;
  return seconds / (elapsedMs / 1000);
}
