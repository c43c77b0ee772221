// OOM kills from pod statuses, as the VPA's observer reads them (vertical-pod-autoscaler
// input/oom/observer.go): a container terminated with reason OOMKilled, seen either while it is
// still terminated (`state`) or, once restarted, as its `lastState`. Each kill is reported once
// and kept for ten minutes, so a controller that polls every few seconds cannot miss it.
//
// Both forms describe the same kill with different restart counts (the kubelet shows the dead
// container's attempt N, then the new one's N + 1 beside lastState), so a kill is known by the
// terminated container's ID (else its finish time, else the restart count) and keeps the restart
// count of its first sighting. A kill that finished before the window — long before this agent
// looked, e.g. before it restarted — is history, not news: known, never reported.

import type { V1ContainerStatus, V1Pod, V1ResourceRequirements } from '@kubernetes/client-node';
import type { OomKill } from '../../protocol/usage.ts';
import type { WorkloadKey } from '../../protocol/workload.ts';
import { parseMemory } from '../quantity.ts';

export const OOM_REPORT_WINDOW_MS = 10 * 60_000;
const OOM_KILLED = 'OOMKilled';

/**
 * Kills by identity (`namespace/pod/container/…`), each as first seen: those a pod's status still
 * shows (so one seen before stays known however long its lastState stays), and those no longer
 * shown that are still inside the window (the pod was deleted, or the container died again).
 */
export type OomLedger = ReadonlyMap<string, OomKill>;

export interface WorkloadPod {
  pod: V1Pod;
  workload: WorkloadKey;
}

/** The ledger after looking at the node's opted-in pods at `now`. */
export function recordOomKills(ledger: OomLedger, pods: readonly WorkloadPod[], now: number): Map<string, OomKill> {
  const next = new Map<string, OomKill>();
  for (const { pod, workload } of pods) {
    for (const [identity, kill] of oomKillsOf(pod, workload, now)) next.set(identity, ledger.get(identity) ?? kill);
  }
  for (const [identity, kill] of ledger) if (!next.has(identity) && isRecent(kill, now)) next.set(identity, kill);
  return next;
}

/** The kills to report at `now`: those of the last ten minutes, oldest first. */
export function reportedOomKills(ledger: OomLedger, now: number): OomKill[] {
  return [...ledger.values()]
    .filter((kill) => isRecent(kill, now))
    .sort((a, b) => a.at - b.at || a.pod.localeCompare(b.pod) || a.container.localeCompare(b.container));
}

const isRecent = (kill: OomKill, now: number) => now - kill.at < OOM_REPORT_WINDOW_MS;

function oomKillsOf(pod: V1Pod, workload: WorkloadKey, now: number): [string, OomKill][] {
  const name = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return statuses.flatMap((status) => {
    const terminated = [status.state?.terminated, status.lastState?.terminated].find((state) => state?.reason === OOM_KILLED);
    if (!terminated) return [];
    const finishedAt = terminated.finishedAt === undefined ? NaN : new Date(terminated.finishedAt).getTime();
    const identity = `${name}/${status.name}/${terminated.containerID ?? (Number.isFinite(finishedAt) ? `finished@${finishedAt}` : `restart#${status.restartCount}`)}`;
    const at = Number.isFinite(finishedAt) ? finishedAt : now;
    const kill: OomKill = {
      pod: name,
      workload,
      container: status.name,
      at,
      restartCount: status.restartCount,
      ...memoryBounds(appliedResources(pod, status)),
    };
    return [[identity, kill]];
  });
}

/**
 * The resources the container ran with: the kubelet's report of what it applied, else the spec
 * (they differ while an in-place resize is pending; the kill happened under the applied ones).
 */
function appliedResources(pod: V1Pod, status: V1ContainerStatus): V1ResourceRequirements | undefined {
  if (status.resources) return status.resources;
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return containers.find((container) => container.name === status.name)?.resources;
}

function memoryBounds(resources: V1ResourceRequirements | undefined): Pick<OomKill, 'memoryRequestBytes' | 'memoryLimitBytes'> {
  const bytes = (text: string | undefined) => {
    const parsed = text === undefined ? undefined : parseMemory(text);
    return parsed?.ok ? parsed.value : undefined;
  };
  const request = bytes(resources?.requests?.memory);
  const limit = bytes(resources?.limits?.memory);
  return { ...(request !== undefined ? { memoryRequestBytes: request } : {}), ...(limit !== undefined ? { memoryLimitBytes: limit } : {}) };
}
