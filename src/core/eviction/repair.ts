// Repair: a pod of an opted-in workload that missed the webhook (it fails open, so a pod created
// while it was down has no sidecar and no `ebb.dev/injected`) or carries an older injection is
// offered for replacement. Replacing helps only where the webhook injects the replacement, so
// pods are offered once the webhook is seen answering again: a pod created after the newest one
// that missed it was injected (ebb's own scale-ups and wake-ups create pods often). Without that,
// nothing is replaced in vain; in a cluster so quiet that no pod is created, one pod is replaced
// as a probe once the newest pod that missed the webhook is REPAIR_PROBE_AFTER_MS old (a probe
// whose replacement misses it too is the newest such pod: probes are that far apart).

import { INJECTION_VERSION } from '../mutation.ts';
import { SIDECAR_NAME } from '../../protocol/sidecar.ts';
import type { SlimPod } from '../resize/slim-pod.ts';

export const REPAIR_PROBE_AFTER_MS = 10 * 60_000;

/**
 * Where a repair stands among the resizer's candidates, whose priority is how many times more a
 * request must grow (100 for a request that is missing): a pod without the sidecar, whose traffic
 * ebb cannot see, goes before most resizes; an older injection after any pod that needs more.
 */
export const REPAIR_PRIORITY = { missed: 10, older: 1 } as const;

export interface RepairPod {
  pod: SlimPod;
  /** The Deployment's pod template carries `ebb.dev/injected`: the webhook skips every replacement too. */
  templateInjected: boolean;
}

/** Why the pod should be replaced to carry what ebb injects today; undefined when it need not, or when a replacement would not either. */
export function repairReason({ pod, templateInjected }: RepairPod): string | undefined {
  if (templateInjected) return undefined;
  if (!pod.injected) {
    const sidecar = pod.containers.some((container) => container.kind === 'sidecar' && container.name === SIDECAR_NAME);
    return sidecar ? undefined : "was created without ebb's sidecar (while the webhook was down, which fails open, or before the workload was opted in)";
  }
  // A record without a version is nothing ebb can judge; a current one, a dry run's or one without
  // a sidecar by the webhook's choice would come back the same.
  const version = pod.injectionVersion;
  if (version === undefined || version >= INJECTION_VERSION) return undefined;
  return `carries ebb's injection v${version}; the current is v${INJECTION_VERSION}`;
}

export interface RepairState {
  /** The pod offered as a probe while the webhook seems down, until it is gone. */
  probe?: string;
}

export const INITIAL_REPAIR_STATE: RepairState = {};

export interface RepairChoice {
  offer: { pod: SlimPod; why: string; priority: number }[];
  state: RepairState;
  /** Why pods that need repair are not all offered, for the log. */
  held?: string;
}

/**
 * Which of the opted-in workloads' pods to offer for repair. The webhook answers again when the
 * newest pod it injected is no older than the newest pod that missed it (creation times have 1 s
 * resolution; a tie counts as answered).
 */
export function chooseRepairs(pods: readonly RepairPod[], state: RepairState, now: number): RepairChoice {
  // One pass over the pods, called with 10,000 every round in bench:controller: with chains of
  // flatMap, map and filter (and a Math.max spread over every pod) the repair round held the event
  // loop for 85 ms, in one pass 35 ms (means of 10 rounds in probed runs).
  const due: RepairChoice['offer'] = [];
  let newestMissed = -Infinity;
  let newestInjected = -Infinity;
  for (const candidate of pods) {
    const { pod } = candidate;
    const createdAt = pod.createdAt ?? 0;
    if (pod.injected && createdAt > newestInjected) newestInjected = createdAt;
    const why = repairReason(candidate);
    if (why === undefined) continue;
    due.push({ pod, why, priority: pod.injected ? REPAIR_PRIORITY.older : REPAIR_PRIORITY.missed });
    if (!pod.injected && createdAt > newestMissed) newestMissed = createdAt;
  }
  if (newestInjected >= newestMissed) return { offer: due, state: {} };

  const probe = due.find(({ pod }) => pod.uid === state.probe) ?? (now - newestMissed >= REPAIR_PROBE_AFTER_MS ? oldest(due) : undefined);
  if (probe) {
    return {
      offer: [probe],
      state: { probe: probe.pod.uid },
      held: `no pod was injected since one missed the webhook: replacing only ${nameOf(probe.pod)} to see whether it answers again`,
    };
  }
  // Said once per pod that missed the webhook last, not as a countdown: the caller logs each change.
  const probeAt = new Date(newestMissed + REPAIR_PROBE_AFTER_MS).toISOString();
  return {
    offer: [],
    state: {},
    held: `no pod was injected since one missed the webhook: waiting for one that is (a sign that it answers again), or for a probe at ${probeAt}`,
  };
}

function oldest<T extends { pod: SlimPod }>(due: readonly T[]): T | undefined {
  return [...due].sort((a, b) => (a.pod.createdAt ?? 0) - (b.pod.createdAt ?? 0) || nameOf(a.pod).localeCompare(nameOf(b.pod)))[0];
}

const nameOf = (pod: SlimPod) => `${pod.namespace}/${pod.name}`;
