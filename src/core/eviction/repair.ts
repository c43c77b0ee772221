// Repair: a pod of an opted-in workload that missed the webhook (it fails open, so a pod created
// while it was down has no sidecar and no `ebb.dev/injected`) or carries an older injection is
// offered for replacement. Replacing helps only where the webhook will inject the replacement,
// so while the newest pods show that it does not (it is still down), one pod at a time is
// replaced as a probe, at most every REPAIR_PROBE_INTERVAL_MS, instead of all of them in vain.

import type { WorkloadKey } from '../../protocol/workload.ts';
import { INJECTED_ANNOTATION } from '../annotations.ts';
import { formatDuration } from '../duration.ts';
import { INJECTION_VERSION } from '../mutation.ts';
import { SIDECAR_NAME } from '../patch/sidecar.ts';

export const REPAIR_PROBE_INTERVAL_MS = 10 * 60_000;

export interface RepairPod {
  workload: WorkloadKey;
  /** `namespace/name`. */
  pod: string;
  uid: string;
  createdAt: number;
  annotations?: Readonly<Record<string, string>>;
  initContainers: readonly string[];
  /** The Deployment's pod template annotations: what every replacement starts with. */
  templateAnnotations?: Readonly<Record<string, string>>;
}

/** Why the pod should be replaced to carry what ebb injects today; undefined when it need not, or when a replacement would not either. */
export function repairReason(pod: RepairPod): string | undefined {
  // A template that carries the annotation makes the webhook skip every replacement too.
  if (pod.templateAnnotations?.[INJECTED_ANNOTATION] !== undefined) return undefined;
  const text = pod.annotations?.[INJECTED_ANNOTATION];
  if (text === undefined) {
    return pod.initContainers.includes(SIDECAR_NAME) ? undefined : 'was created without ebb (the webhook did not answer; it fails open)';
  }
  const version = injectionVersion(text);
  if (version === undefined || version >= INJECTION_VERSION) return undefined;
  return `carries ebb's injection v${version}; the current is v${INJECTION_VERSION}`;
}

/** `v` of an `ebb.dev/injected` record; undefined when it has none (nothing ebb can judge). */
function injectionVersion(text: string): number | undefined {
  try {
    const record: unknown = JSON.parse(text);
    const version = typeof record === 'object' && record !== null ? (record as { v?: unknown }).v : undefined;
    return typeof version === 'number' ? version : undefined;
  } catch {
    return undefined;
  }
}

export interface RepairState {
  /** The pod offered as a probe while the webhook seems down, until it is gone. */
  probe?: string;
  /** When the next probe may be offered. */
  nextProbeAt?: number;
}

export const INITIAL_REPAIR_STATE: RepairState = {};

export interface RepairChoice {
  offer: { pod: RepairPod; why: string }[];
  state: RepairState;
  /** Why pods that need repair are not all offered, for the log. */
  held?: string;
}

/**
 * Which of the opted-in pods to offer for repair. The webhook answers again when the newest pod
 * it answered for is no older than the newest pod that missed it (creation times have 1 s
 * resolution; a tie counts as answered).
 */
export function chooseRepairs(pods: readonly RepairPod[], state: RepairState, now: number): RepairChoice {
  const due = pods.flatMap((pod) => {
    const why = repairReason(pod);
    return why === undefined ? [] : [{ pod, why }];
  });
  const newest = (list: readonly RepairPod[]) => Math.max(-Infinity, ...list.map((pod) => pod.createdAt));
  const missed = pods.filter((pod) => pod.annotations?.[INJECTED_ANNOTATION] === undefined && repairReason(pod) !== undefined);
  const answered = pods.filter((pod) => pod.annotations?.[INJECTED_ANNOTATION] !== undefined);
  if (missed.length === 0 || newest(answered) >= newest(missed)) return { offer: due, state: {} };

  const probe = due.find((candidate) => candidate.pod.uid === state.probe);
  if (probe) return { offer: [probe], state, held: heldText(probe.pod) };
  const wasProbing = state.probe !== undefined;
  const nextProbeAt = wasProbing ? now + REPAIR_PROBE_INTERVAL_MS : state.nextProbeAt;
  if (nextProbeAt !== undefined && now < nextProbeAt) {
    return { offer: [], state: { nextProbeAt }, held: `no pod created since the webhook missed one was injected; the next probe in ${formatDuration(Math.ceil((nextProbeAt - now) / 1000) * 1000)}` };
  }
  const oldest = [...due].sort((a, b) => a.pod.createdAt - b.pod.createdAt || a.pod.pod.localeCompare(b.pod.pod))[0]!;
  return { offer: [oldest], state: { probe: oldest.pod.uid }, held: heldText(oldest.pod) };
}

function heldText(probe: RepairPod): string {
  return `no pod created since the webhook missed one was injected: replacing only ${probe.pod} to see whether the webhook answers again`;
}
