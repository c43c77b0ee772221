// What the controller does with one running pod of a workload whose resize mode lets it act:
// resize it in place (`pods/resize`), offer it for eviction (the disruption manager replaces it
// under the safety rules and the webhook sizes the replacement), wait, report, or leave it alone.
// The rules are KEP-1287's as of Kubernetes 1.35: only a Running pod whose node reports the
// applied resources; its QoS class unchanged (BestEffort pods are left alone); nothing removed;
// a resource whose resizePolicy is RestartContainer is a disruption, not an in-place resize;
// nothing written while a resize is pending or in progress. What the kubelet made of a resize
// decides what follows: Infeasible, or Deferred past the policy's timeout, is offered for
// eviction in `auto` and reported in `in-place`; an Error is retried after a backoff, never taken
// for infeasible (kubernetes/autoscaler #10093). A pod is offered for eviction only for what its
// replacement would get (the webhook keeps a request equal to its limit). Pure: time is passed in.
import { RESOURCES, type Amounts, type PodContainers, type ResourceName } from '../pod-resources.ts';
import { qosOf, type QosClass } from '../qos.ts';
import { containerChanges, describeChanges, type ResourceChange } from './changes.ts';
import { resizable, resizeState, type ResizeState } from './resize-state.ts';
import type { SlimContainer, SlimPod } from './slim-pod.ts';
import type { ContainerTargets } from './targets.ts';

/** The modes in which the controller acts on running pods (`off` and `initial` leave them alone). */
export type RunningPodMode = 'in-place' | 'evict' | 'auto';

export interface ResizeInput {
  pod: SlimPod;
  /** The workload's recommendation, by container name. */
  targets: ReadonlyMap<string, ContainerTargets>;
  mode: RunningPodMode;
  tolerance: number;
  /** Resources whose requests ebb leaves alone (an HPA scales on their utilization). */
  held: ReadonlySet<ResourceName>;
  /** Whether the API server lets a resize lower a memory limit (Kubernetes ≥ 1.34). */
  memoryLimitDecrease: boolean;
  deferredTimeoutMs: number;
  /** The resizer holds its next write to this pod back until then (after a kubelet Error or a refused write). */
  retryAt?: number;
  now: number;
}

/** The new amounts of the resources that change, for one container. */
export interface ContainerResize {
  name: string;
  kind: 'app' | 'sidecar';
  requests: Amounts;
  limits: Amounts;
}

export type WaitState = 'in-flight' | 'deferred' | 'error' | 'backoff';

export type ResizeDecision =
  | { action: 'none'; why: string }
  | { action: 'wait'; state: WaitState; why: string }
  | { action: 'resize'; containers: ContainerResize[]; changes: ResourceChange[]; priority: number; why: string }
  /** `reason`: the node refused or held back the resize, which deserves an Event of its own. */
  | { action: 'evict'; priority: number; why: string; reason?: NodeVerdict }
  | { action: 'report'; reason: NodeVerdict; why: string };

/** The Event reasons of a resize that cannot be made in place. */
export type NodeVerdict = 'ResizeInfeasible' | 'ResizeDeferred';

const none = (why: string): ResizeDecision => ({ action: 'none', why });
const wait = (state: WaitState, why: string): ResizeDecision => ({ action: 'wait', state, why });

/** How much more the pod needs: the largest ratio of a new request to the old (a missing request counts as the most). */
export function priorityOf(changes: readonly ResourceChange[]): number {
  const MISSING = 100;
  const ratios = changes.map(({ request }) => (request === undefined ? 1 : request.from ? Math.min(request.to / request.from, MISSING) : MISSING));
  return Math.max(0, ...ratios);
}

const amountsOfPod = (containers: readonly SlimContainer[]): PodContainers => ({
  containers: containers.filter((c) => c.kind === 'app'),
  initContainers: containers.filter((c) => c.kind !== 'app').map((c) => ({ ...c, sidecar: c.kind === 'sidecar' })),
  overhead: {},
});

function withChanges(containers: readonly SlimContainer[], changes: readonly ResourceChange[]): SlimContainer[] {
  return containers.map((container) => {
    const mine = changes.filter((change) => change.container === container.name);
    if (mine.length === 0) return container;
    const requests = { ...container.requests };
    const limits = { ...container.limits };
    for (const { resource, request, limit } of mine) {
      if (request) requests[resource] = request.to;
      if (limit) limits[resource] = limit.to;
    }
    return { ...container, requests, limits };
  });
}

function resizesOf(containers: readonly SlimContainer[], changes: readonly ResourceChange[]): ContainerResize[] {
  return withChanges(containers, changes)
    .filter((container) => container.kind !== 'init' && changes.some((change) => change.container === container.name))
    .map(({ name, kind, requests, limits }) => {
      const changed = (resource: ResourceName, side: 'request' | 'limit') => changes.some((c) => c.container === name && c.resource === resource && c[side]);
      const pick = (amounts: Amounts, side: 'request' | 'limit') =>
        Object.fromEntries(RESOURCES.filter((r) => changed(r, side)).map((r) => [r, amounts[r]])) as Amounts;
      return { name, kind: kind as 'app' | 'sidecar', requests: pick(requests, 'request'), limits: pick(limits, 'limit') };
    });
}

/**
 * The changes a replacement pod would get: the webhook sizes it, and it keeps a request that equals
 * its limit (a deliberate Guaranteed choice, src/core/patch/requests.ts). Evicting for the others
 * would replace the pod with its twin, round after round.
 */
function byReplacement(pod: SlimPod, changes: readonly ResourceChange[]): ResourceChange[] {
  return changes.filter(({ container, resource }) => {
    const { requests, limits } = pod.containers.find((c) => c.name === container)!;
    return requests[resource] === undefined || requests[resource] !== limits[resource];
  });
}

const NOT_BY_REPLACEMENT = 'a replacement would not be sized differently (the webhook keeps a request equal to its limit)';

/** Why a change cannot be made in place, or undefined when it can. */
function blocked(change: ResourceChange, container: SlimContainer, input: ResizeInput): string | undefined {
  if (container.restartOnResize.includes(change.resource))
    return `container ${container.name} restarts to resize ${change.resource} (resizePolicy RestartContainer)`;
  const lowersMemoryLimit =
    change.resource === 'memory' && change.limit !== undefined && change.limit.from !== undefined && change.limit.to < change.limit.from;
  if (lowersMemoryLimit && !input.memoryLimitDecrease)
    return `container ${container.name}: this API server refuses to lower a memory limit in place (Kubernetes < 1.34)`;
  return undefined;
}

function wantedChanges(pod: SlimPod, input: ResizeInput, qos: 'Guaranteed' | 'Burstable'): ResourceChange[] {
  const rules = { qos, tolerance: input.tolerance, held: input.held, memoryLimitDecrease: input.memoryLimitDecrease };
  return pod.containers.filter(resizable).flatMap((container) => {
    const targets = input.targets.get(container.name);
    return targets ? containerChanges(container, targets, rules) : [];
  });
}

function inPlace(pod: SlimPod, changes: ResourceChange[], qos: QosClass, input: ResizeInput): ResizeDecision {
  const reasons: string[] = [];
  let allowed = changes.filter((change) => {
    const reason = blocked(
      change,
      pod.containers.find((c) => c.name === change.container)!,
      input,
    );
    if (reason) reasons.push(reason);
    return reason === undefined;
  });
  const after = qosOf(amountsOfPod(withChanges(pod.containers, allowed)));
  if (after !== qos) {
    reasons.push(`the pod would become ${after} (a resize may not change the QoS class ${qos})`);
    allowed = [];
  }
  if (reasons.length > 0 && input.mode === 'auto') {
    const replaced = byReplacement(pod, changes);
    if (replaced.length > 0)
      return { action: 'evict', priority: priorityOf(replaced), why: `${describeChanges(replaced)}; not in place: ${reasons.join('; ')}` };
    reasons.push(NOT_BY_REPLACEMENT);
  }
  if (allowed.length === 0) return { action: 'report', reason: 'ResizeInfeasible', why: `cannot be resized in place: ${reasons.join('; ')}` };
  const left = reasons.length > 0 ? `; left as is: ${reasons.join('; ')}` : '';
  return {
    action: 'resize',
    containers: resizesOf(pod.containers, allowed),
    changes: allowed,
    priority: priorityOf(allowed),
    why: `${describeChanges(allowed)}${left}`,
  };
}

export function planResize(input: ResizeInput): ResizeDecision {
  const { pod } = input;
  const leftAlone = notResizable(pod);
  if (leftAlone) return none(leftAlone);
  const qos = pod.qosClass ?? qosOf(amountsOfPod(pod.containers));
  if (qos === 'BestEffort') return none('a BestEffort pod is left alone: it may not gain requests in place, and it chose to have none');
  const changes = wantedChanges(pod, input, qos);
  if (input.mode === 'evict') return byEvictionOnly(pod, changes);
  const decided = afterLastResize(resizeState(pod), input, changes);
  if (decided) return decided;
  if (changes.length === 0) return none('within the recommendation');
  return inPlace(pod, changes, qos, input);
}

/** Why the pod is not resized at all, or undefined. */
function notResizable(pod: SlimPod): string | undefined {
  if (pod.phase !== 'Running' || pod.deleting) return `the pod is ${pod.deleting ? 'terminating' : pod.phase}`;
  if (pod.podLevelResources) return 'pod-level resources: Kubernetes 1.35 resizes them only behind an alpha feature gate';
  return undefined;
}

/** Mode `evict`: the pod is offered for eviction when its replacement would be sized differently. */
function byEvictionOnly(pod: SlimPod, changes: readonly ResourceChange[]): ResizeDecision {
  if (changes.length === 0) return none('within the recommendation');
  const replaced = byReplacement(pod, changes);
  return replaced.length > 0
    ? { action: 'evict', priority: priorityOf(replaced), why: describeChanges(replaced) }
    : none(`${describeChanges(changes)}; ${NOT_BY_REPLACEMENT}: only an in-place resize changes it`);
}

/**
 * What the node made of the resize written last decides on its own (wait, evict, report), or
 * undefined: a new resize may be planned.
 */
function afterLastResize(state: ResizeState, input: ResizeInput, changes: readonly ResourceChange[]): ResizeDecision | undefined {
  const heldBack = input.retryAt !== undefined && input.now < input.retryAt;
  switch (state.kind) {
    case 'unreported':
      return unreported(input, changes);
    case 'in-flight':
      return wait('in-flight', 'a resize is being applied');
    case 'infeasible':
      return nodeVerdict(input.mode, changes, 'ResizeInfeasible', `the node cannot fit the resize: ${state.message}`);
    case 'deferred':
      return afterDeferral(state, input, changes);
    case 'error':
      if (heldBack) return wait('backoff', `the kubelet failed to apply the resize (${state.message}); ebb tries again later`);
      if (changes.length === 0) return wait('error', `the kubelet failed to apply the resize and retries: ${state.message}`);
      return undefined;
    case 'settled':
      if (heldBack && changes.length > 0) return wait('backoff', 'the last resize was refused; ebb tries again later');
      return undefined;
  }
}

/** The node reports no applied resources: no in-place resize; in `auto`, eviction for what a replacement would get. */
function unreported(input: ResizeInput, changes: readonly ResourceChange[]): ResizeDecision {
  const replaced = input.mode === 'auto' ? byReplacement(input.pod, changes) : [];
  if (replaced.length > 0)
    return {
      action: 'evict',
      priority: priorityOf(replaced),
      why: `${describeChanges(replaced)}; not in place: the node reports no applied resources (no in-place resize)`,
    };
  return none(changes.length === 0 ? 'within the recommendation' : 'the node reports no applied resources: the API server refuses to resize this pod');
}

/** A resize the node defers is waited for up to the policy's timeout, then treated as refused. */
function afterDeferral(state: Extract<ResizeState, { kind: 'deferred' }>, input: ResizeInput, changes: readonly ResourceChange[]): ResizeDecision {
  const waited = state.since === undefined ? 0 : input.now - state.since;
  if (waited < input.deferredTimeoutMs) return wait('deferred', `the node defers the resize: ${state.message}`);
  return nodeVerdict(input.mode, changes, 'ResizeDeferred', `the node has deferred the resize for ${Math.round(waited / 1000)} s: ${state.message}`);
}

/** The node's verdict on a resize already written: in `auto` a replacement starts again from the template; in `in-place` it is reported. */
function nodeVerdict(mode: RunningPodMode, changes: readonly ResourceChange[], reason: NodeVerdict, why: string): ResizeDecision {
  return mode === 'auto' ? { action: 'evict', priority: priorityOf(changes), why, reason } : { action: 'report', reason, why };
}
