// Repair: a pod of an opted-in workload that missed the webhook (it fails open, so a pod created
// while it was down has no sidecar and no `ebb.dev/injected`) or carries an older injection is
// offered for replacement. Replacing helps only where the webhook will inject the replacement,
// so while the newest pods show that it does not (it is still down), one pod at a time is
// replaced as a probe, at most every REPAIR_PROBE_INTERVAL_MS, instead of all of them in vain.

import { formatDuration } from '../duration.ts';
import { INJECTION_VERSION } from '../mutation.ts';
import { SIDECAR_NAME } from '../patch/sidecar.ts';
import type { SlimPod } from '../resize/slim-pod.ts';

export const REPAIR_PROBE_INTERVAL_MS = 10 * 60_000;

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
  /** When the next probe may be offered. */
  nextProbeAt?: number;
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
 * newest pod it answered for is no older than the newest pod that missed it (creation times have
 * 1 s resolution; a tie counts as answered).
 */
export function chooseRepairs(pods: readonly RepairPod[], state: RepairState, now: number): RepairChoice {
  const due = pods.flatMap((candidate) => {
    const why = repairReason(candidate);
    const priority = candidate.pod.injected ? REPAIR_PRIORITY.older : REPAIR_PRIORITY.missed;
    return why === undefined ? [] : [{ pod: candidate.pod, why, priority }];
  });
  const newest = (list: readonly SlimPod[]) => Math.max(-Infinity, ...list.map((pod) => pod.createdAt ?? 0));
  const missed = due.map(({ pod }) => pod).filter((pod) => !pod.injected);
  const answered = pods.map(({ pod }) => pod).filter((pod) => pod.injected);
  if (missed.length === 0 || newest(answered) >= newest(missed)) return { offer: due, state: {} };

  const probe = due.find(({ pod }) => pod.uid === state.probe);
  if (probe) return { offer: [probe], state, held: heldText(probe.pod) };
  const wasProbing = state.probe !== undefined;
  const nextProbeAt = wasProbing ? now + REPAIR_PROBE_INTERVAL_MS : state.nextProbeAt;
  if (nextProbeAt !== undefined && now < nextProbeAt) {
    return { offer: [], state: { nextProbeAt }, held: `no pod created since the webhook missed one was injected; the next probe in ${formatDuration(Math.ceil((nextProbeAt - now) / 1000) * 1000)}` };
  }
  const oldest = [...due].sort((a, b) => (a.pod.createdAt ?? 0) - (b.pod.createdAt ?? 0) || nameOf(a.pod).localeCompare(nameOf(b.pod)))[0]!;
  return { offer: [oldest], state: { probe: oldest.pod.uid }, held: heldText(oldest.pod) };
}

const nameOf = (pod: SlimPod) => `${pod.namespace}/${pod.name}`;

function heldText(probe: SlimPod): string {
  return `no pod created since the webhook missed one was injected: replacing only ${nameOf(probe)} to see whether the webhook answers again`;
}
