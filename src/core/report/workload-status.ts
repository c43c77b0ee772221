// One opted-in workload as `kubectl ebb status` shows it, derived from what the API server holds:
// the Deployment's replicas, its pod template's requests and the `ebb.dev/status` annotation the
// controller writes. Pure: the CLI reads the objects and passes `now`.
//
// "Saved" is the requests ebb took off (or, negative, added to) the running pods: per container,
// what the pod template asks for (or the policy's defaultRequests when it asks for nothing: what
// the webhook would give) less what ebb applies (the recommendation's target; a raise-only one
// never lowers a request), times the pods running. A workload whose resize mode is `off` saves
// nothing: its recommendation is only shown. The replicas ebb stopped by scaling to zero are not
// counted here: they are in the replicas columns.
import type { Amounts } from '../pod-resources.ts';
import { targetsOf, type ContainerRequests } from '../recommendation.ts';
import type { ResizeMode } from '../settings.ts';
import type { ReadStatus } from '../status.ts';

export interface WorkloadFacts {
  namespace: string;
  name: string;
  resize: ResizeMode;
  /** spec.replicas, status.replicas, status.readyReplicas. */
  replicas: { spec: number; actual: number; ready: number };
  status: ReadStatus | undefined;
  /** The pod template's app containers and their requests (millicores, bytes). */
  containers: readonly { name: string; requests: Amounts }[];
  /** The policy's defaultRequests: what a container that requests nothing gets. */
  defaultRequests: { cpuMillis: number; memoryBytes: number };
}

export interface ContainerSizing {
  name: string;
  /** As the pod template asks (millicores, bytes); absent when it asks for none. */
  requests: Amounts;
  /** The recommender's targets; absent before the first recommendation. */
  recommendation?: Amounts;
  /** Too little history to trust a decrease yet: the targets only raise requests. */
  raiseOnly?: true;
}

export interface WorkloadStatus {
  namespace: string;
  name: string;
  resize: ResizeMode;
  /** desired: what ebb last decided (null: it took no action, so spec.replicas stands). */
  replicas: { desired: number; actual: number; ready: number };
  /** Mean requests in flight when the status was written; null before ebb has seen activity. */
  inFlight: number | null;
  lastRequestAt: string | null;
  reason: string | null;
  message: string | null;
  traffic: string | null;
  pending: string[];
  /** When the controller last wrote the status; null when it never did. */
  updatedAt: string | null;
  containers: ContainerSizing[];
  /** Requests saved across the running pods (negative: added). */
  saved: Required<Amounts>;
}

export function workloadStatus(facts: WorkloadFacts): WorkloadStatus {
  const { status } = facts;
  const targets = targetsOf((status?.recommendation as { containers?: unknown } | undefined)?.containers) ?? {};
  const containers = facts.containers.map(({ name, requests }) => {
    const target = targets[name];
    const recommendation: Amounts | undefined = target && {
      ...(target.cpuMillis !== undefined ? { cpu: target.cpuMillis } : {}),
      ...(target.memoryBytes !== undefined ? { memory: target.memoryBytes } : {}),
    };
    return { name, requests, ...(recommendation ? { recommendation } : {}), ...(target?.raiseOnly ? { raiseOnly: true as const } : {}) };
  });
  const perPod = facts.resize === 'off' ? { cpu: 0, memory: 0 } : savedPerPod(facts, targets);
  return {
    namespace: facts.namespace,
    name: facts.name,
    resize: facts.resize,
    replicas: { desired: status?.desiredReplicas ?? facts.replicas.spec, actual: facts.replicas.actual, ready: facts.replicas.ready },
    ...statusFields(status),
    containers,
    saved: { cpu: perPod.cpu * facts.replicas.actual, memory: perPod.memory * facts.replicas.actual },
  };
}

/** What the controller's status says, or nothing yet where it has not written one. */
function statusFields(
  status: ReadStatus | undefined,
): Pick<WorkloadStatus, 'inFlight' | 'lastRequestAt' | 'reason' | 'message' | 'traffic' | 'pending' | 'updatedAt'> {
  return {
    inFlight: status?.inFlight ?? null,
    lastRequestAt: status?.lastRequestAt ?? null,
    reason: status?.reason ?? null,
    message: status?.message ?? null,
    traffic: status?.traffic ?? null,
    pending: status?.pending ?? [],
    updatedAt: status?.updatedAt ?? null,
  };
}

function savedPerPod(facts: WorkloadFacts, targets: Readonly<Record<string, ContainerRequests>>): Required<Amounts> {
  const saved = { cpu: 0, memory: 0 };
  for (const { name, requests } of facts.containers) {
    const target = targets[name];
    if (!target) continue;
    const before = { cpu: requests.cpu ?? facts.defaultRequests.cpuMillis, memory: requests.memory ?? facts.defaultRequests.memoryBytes };
    const applied = (resource: 'cpu' | 'memory', recommended: number | undefined) => {
      if (recommended === undefined) return before[resource];
      return target.raiseOnly ? Math.max(before[resource], recommended) : recommended;
    };
    saved.cpu += before.cpu - applied('cpu', target.cpuMillis);
    saved.memory += before.memory - applied('memory', target.memoryBytes);
  }
  return saved;
}

/** The requests saved across every workload listed. */
export function totalSaved(workloads: readonly WorkloadStatus[]): Required<Amounts> {
  return workloads.reduce((total, { saved }) => ({ cpu: total.cpu + saved.cpu, memory: total.memory + saved.memory }), { cpu: 0, memory: 0 });
}

/** What waits, in words: the controller's pending lines, and replicas decided but not ready yet (a wake-up, a scale-up). */
export function pendingLines(workload: WorkloadStatus): string[] {
  const { desired, ready } = workload.replicas;
  const notReady = desired > ready ? [`${desired - ready} of ${desired} desired replicas not ready yet${ready === 0 ? ' (waking up)' : ''}`] : [];
  return [...notReady, ...workload.pending];
}
