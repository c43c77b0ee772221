// Per-workload activity from the per-pod windows the agent keeps. A pod whose last scrape failed
// keeps contributing its last known figures, marked stale: a scrape failure must never read as
// "no traffic" to the controller, which would then scale the workload to zero. Pure.

import type { PodActivity, WorkloadActivity } from '../../protocol/activity.ts';
import type { WorkloadKey } from '../../protocol/workload.ts';
import type { WindowFigures } from './window.ts';

export interface PodFigures {
  pod: string;
  workload: WorkloadKey;
  stale: boolean;
  scrapedAt: number | null;
  /** undefined until the first successful scrape. */
  figures: WindowFigures | undefined;
}

export function aggregateByWorkload(pods: readonly PodFigures[], heldByWorkload: ReadonlyMap<WorkloadKey, number>): WorkloadActivity[] {
  const byWorkload = new Map<WorkloadKey, WorkloadActivity>();
  const entry = (workload: WorkloadKey): WorkloadActivity => {
    let activity = byWorkload.get(workload);
    if (!activity) {
      activity = {
        workload,
        inFlight: 0,
        meanInFlight: 0,
        requestRate: 0,
        lastRequestAt: null,
        held: heldByWorkload.get(workload) ?? 0,
        stalePods: 0,
        pods: [],
      };
      byWorkload.set(workload, activity);
    }
    return activity;
  };
  for (const pod of pods) {
    const activity = entry(pod.workload);
    const figures = pod.figures;
    const podActivity: PodActivity = { pod: pod.pod, inFlight: figures?.inFlight ?? 0, stale: pod.stale || !figures, scrapedAt: pod.scrapedAt };
    activity.pods.push(podActivity);
    if (podActivity.stale) activity.stalePods += 1;
    if (!figures) continue;
    activity.inFlight += figures.inFlight;
    activity.meanInFlight += figures.meanInFlight;
    activity.requestRate += figures.requestRate;
    if (figures.lastRequestAt !== null && (activity.lastRequestAt === null || figures.lastRequestAt > activity.lastRequestAt)) {
      activity.lastRequestAt = figures.lastRequestAt;
    }
  }
  for (const workload of heldByWorkload.keys()) entry(workload);
  return [...byWorkload.values()].sort((a, b) => a.workload.localeCompare(b.workload));
}
