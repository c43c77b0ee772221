// The namespace's ResourceQuotas against what ebb adds. The ResourceQuota admission runs after the
// mutating webhooks and judges the pod as ebb left it:
// - a quota that tracks limits.cpu (or limits.memory, requests.*, cpu, memory) refuses the whole
//   pod when one container lacks that field ("must specify limits.cpu for: ebb-interceptor");
// - a pod that would take a tracked resource over the quota's hard amount is refused ("exceeded
//   quota").
// So the sidecar carries every limit a quota that selects the pod tracks, and when a quota has no
// room left for it, ebb leaves the sidecar out and says why, rather than have the pod refused.
import type { V1Pod, V1ResourceQuota, V1ScopedResourceSelectorRequirement } from '@kubernetes/client-node';
import { FORMAT, PARSE, type ContainerAmounts, type ResourceName } from '../pod-resources.ts';
import type { QosClass } from '../qos.ts';

/** The quota resources that a pod's CPU and memory count against, and which total each one is. */
const TRACKED: Readonly<Record<string, { side: keyof ContainerAmounts; resource: ResourceName }>> = {
  cpu: { side: 'requests', resource: 'cpu' },
  'requests.cpu': { side: 'requests', resource: 'cpu' },
  'limits.cpu': { side: 'limits', resource: 'cpu' },
  memory: { side: 'requests', resource: 'memory' },
  'requests.memory': { side: 'requests', resource: 'memory' },
  'limits.memory': { side: 'limits', resource: 'memory' },
};

/** What the quota enforces: status.hard, which the quota controller copies from spec.hard. */
const hardOf = (quota: V1ResourceQuota) => quota.status?.hard ?? quota.spec?.hard ?? {};

function amountOf(resource: ResourceName, quantity: string | undefined): number | undefined {
  const parsed = quantity === undefined ? undefined : PARSE[resource](quantity);
  return parsed?.ok ? parsed.value : undefined;
}

/** The API server's scope test for a pod (podMatchesScopeFunc in its pod quota evaluator). */
function scopeSelects(requirement: V1ScopedResourceSelectorRequirement, pod: V1Pod, qos: QosClass): boolean {
  const terminating = (pod.spec?.activeDeadlineSeconds ?? -1) >= 0;
  switch (requirement.scopeName) {
    case 'Terminating':
      return terminating;
    case 'NotTerminating':
      return !terminating;
    case 'BestEffort':
      return qos === 'BestEffort';
    case 'NotBestEffort':
      return qos !== 'BestEffort';
    case 'PriorityClass':
      return priorityClassSelected(requirement, pod.spec?.priorityClassName ?? '');
    case 'CrossNamespacePodAffinity':
      return usesCrossNamespaceAffinity(pod);
    default:
      // VolumeAttributesClass selects PersistentVolumeClaims, never a pod.
      return false;
  }
}

/** A label selector over {PriorityClass: name}, the key present only when the pod names a class. */
function priorityClassSelected({ operator, values = [] }: V1ScopedResourceSelectorRequirement, name: string): boolean {
  switch (operator) {
    case 'In':
      return name !== '' && values.includes(name);
    case 'NotIn':
      return name === '' || !values.includes(name);
    case 'Exists':
      return name !== '';
    case 'DoesNotExist':
      return name === '';
    default:
      return false;
  }
}

function usesCrossNamespaceAffinity(pod: V1Pod): boolean {
  const affinity = pod.spec?.affinity;
  const terms = [affinity?.podAffinity, affinity?.podAntiAffinity].flatMap((kind) => [
    ...(kind?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
    ...(kind?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((weighted) => weighted.podAffinityTerm),
  ]);
  return terms.some((term) => (term.namespaces ?? []).length > 0 || term.namespaceSelector !== undefined);
}

/** The quotas that count this pod: every scope of theirs selects it (`scopes` are `Exists` requirements). */
export function quotasSelecting(quotas: readonly V1ResourceQuota[], pod: V1Pod, qos: QosClass): V1ResourceQuota[] {
  return quotas.filter((quota) => {
    const requirements = [
      ...(quota.spec?.scopes ?? []).map((scopeName) => ({ scopeName, operator: 'Exists' })),
      ...(quota.spec?.scopeSelector?.matchExpressions ?? []),
    ];
    return requirements.every((requirement) => scopeSelects(requirement, pod, qos));
  });
}

/** Which limits the quotas track: a container without one would have the pod refused. */
export function limitsTracked(quotas: readonly V1ResourceQuota[]): Record<ResourceName, boolean> {
  const tracked = (name: string) => quotas.some((quota) => hardOf(quota)[name] !== undefined);
  return { cpu: tracked('limits.cpu'), memory: tracked('limits.memory') };
}

export interface QuotaShortfall {
  quota: string;
  /** The quota's resource name, e.g. `limits.cpu`. */
  tracked: string;
  resource: ResourceName;
  hard: number;
  used: number;
  /** The pod's usage without the sidecar, and what the sidecar adds to it. */
  pod: number;
  sidecar: number;
}

/**
 * The first tracked resource where the pod with the sidecar does not fit what is left of a quota
 * (hard − used), or undefined when it fits everywhere.
 */
export function quotaShortfall(
  quotas: readonly V1ResourceQuota[],
  withoutSidecar: ContainerAmounts,
  withSidecar: ContainerAmounts,
): QuotaShortfall | undefined {
  for (const quota of quotas) {
    const hard = hardOf(quota);
    for (const [tracked, { side, resource }] of Object.entries(TRACKED)) {
      const limit = amountOf(resource, hard[tracked]);
      if (limit === undefined) continue;
      const used = amountOf(resource, quota.status?.used?.[tracked]) ?? 0;
      const pod = withoutSidecar[side][resource] ?? 0;
      const total = withSidecar[side][resource] ?? 0;
      if (used + total > limit) {
        return { quota: quota.metadata?.name ?? '', tracked, resource, hard: limit, used, pod, sidecar: total - pod };
      }
    }
  }
  return undefined;
}

/** The shortfall in words, for `ebb.dev/injected`. */
export function describeShortfall(shortfall: QuotaShortfall): string {
  const format = FORMAT[shortfall.resource];
  const missing = shortfall.used + shortfall.pod + shortfall.sidecar - shortfall.hard;
  return (
    `ResourceQuota ${JSON.stringify(shortfall.quota)} has no room for the sidecar: ${shortfall.tracked} ${format(missing)} missing ` +
    `(hard ${format(shortfall.hard)}, used ${format(shortfall.used)}, this pod ${format(shortfall.pod)} + the sidecar ${format(shortfall.sidecar)})`
  );
}
