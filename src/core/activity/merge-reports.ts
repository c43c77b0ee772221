// The controller hears from every agent; the decider wants one sample per workload. A workload's
// pods may run on several nodes, and requests for it may wait at several activators, so the
// figures add up across agents; the last request is the latest any agent saw.

import type { ActivitySample } from '../decider/activity-window.ts';
import type { ActivityColumns } from '../../protocol/activity.ts';
import type { WorkloadKey } from '../../protocol/workload.ts';

export function mergeReports(reports: readonly ActivityColumns[], at: number): Map<WorkloadKey, ActivitySample> {
  const merged = new Map<WorkloadKey, ActivitySample>();
  for (const report of reports) {
    const { meanInFlight, held, requestRate, lastRequestAt } = report;
    report.workload.forEach((key, i) => {
      const sample = merged.get(key) ?? { at, inFlight: 0, requestRate: 0 };
      // The mean over the agent's window, not the instant count: a scrape that lands between two
      // requests must not read as idle. Held requests are load too (they wait for a replica).
      sample.inFlight += meanInFlight[i]! + held[i]!;
      sample.requestRate = (sample.requestRate ?? 0) + requestRate[i]!;
      const last = lastRequestAt[i];
      if (last !== null && last !== undefined) sample.lastRequestAt = Math.max(sample.lastRequestAt ?? 0, last);
      merged.set(key, sample);
    });
  }
  return merged;
}
