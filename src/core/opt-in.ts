// Whether a pod gets ebb at all. Some pods never do, whatever their annotations say: the cluster's
// own namespaces, ebb's namespace and ebb's pods (ebb must not intercept itself), namespaces the
// policy excludes, and mirror pods (the kubelet owns them; the API server only reflects them).
// Otherwise an explicit "false" on the pod template or Deployment wins, then an explicit "true",
// then the namespace (label `ebb.dev/injection`, or annotation `ebb.dev/enabled`), then the policy.
import { INJECTION_LABEL } from './annotations.ts';
import type { Policy } from './policy.ts';
import type { SettingsLayer } from './setting-schema.ts';

/** Kubernetes' own namespaces: never opted in, whatever their labels say. */
export const SYSTEM_NAMESPACES: ReadonlySet<string> = new Set(['kube-system', 'kube-public', 'kube-node-lease']);
/** On a static pod's mirror: the kubelet owns that pod, and the API server cannot change it. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
/** `ebb` on ebb's own pods, wherever they run: ebb never sizes or scales itself. */
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
/** Where ebb runs when POD_NAMESPACE does not say; the one place this name is written. */
export const DEFAULT_EBB_NAMESPACE = 'ebb-system';

export interface OptInInput {
  namespace: string;
  /** Where ebb itself runs. */
  ebbNamespace: string;
  namespaceLabels: Readonly<Record<string, string>> | undefined;
  podLabels: Readonly<Record<string, string>> | undefined;
  podAnnotations: Readonly<Record<string, string>> | undefined;
  /** What each level's (valid) annotations set. */
  pod: SettingsLayer;
  deployment: SettingsLayer;
  namespaceSettings: SettingsLayer;
  policy: Policy;
}

export interface OptInDecision {
  inject: boolean;
  reason: string;
}

const yes = (reason: string): OptInDecision => ({ inject: true, reason });
const no = (reason: string): OptInDecision => ({ inject: false, reason });

/** The reason a pod can never be injected, if there is one. */
function neverReason(input: OptInInput): string | undefined {
  if (SYSTEM_NAMESPACES.has(input.namespace)) return `namespace ${input.namespace} belongs to Kubernetes`;
  if (input.namespace === input.ebbNamespace) return `namespace ${input.namespace} is ebb's own`;
  if (input.policy.excludedNamespaces.has(input.namespace)) return `namespace ${input.namespace} is in the policy's excludedNamespaces`;
  if (input.podAnnotations?.[MIRROR_POD_ANNOTATION] !== undefined) return 'it is a mirror pod (a static pod the kubelet owns)';
  if (input.podLabels?.[PART_OF_LABEL] === 'ebb') return `it is part of ebb (${PART_OF_LABEL}=ebb)`;
  return undefined;
}

export function decideOptIn(input: OptInInput): OptInDecision {
  const never = neverReason(input);
  if (never) return no(never);
  const { pod, deployment } = input;
  if (pod.enabled === false) return no('ebb.dev/enabled is "false" on the pod template');
  if (deployment.enabled === false) return no('ebb.dev/enabled is "false" on the Deployment');
  if (pod.enabled) return yes('ebb.dev/enabled is "true" on the pod template');
  if (deployment.enabled) return yes('ebb.dev/enabled is "true" on the Deployment');
  const label = input.namespaceLabels?.[INJECTION_LABEL];
  if (label === 'disabled' || input.namespaceSettings.enabled === false) return no(`namespace ${input.namespace} opts out`);
  if (label === 'enabled') return yes(`namespace ${input.namespace} is labelled ${INJECTION_LABEL}=enabled`);
  if (input.namespaceSettings.enabled) return yes(`ebb.dev/enabled is "true" on namespace ${input.namespace}`);
  const rule = input.policy.namespaces.get(input.namespace);
  if (rule?.injection)
    return { inject: rule.injection === 'enabled', reason: `the policy rule for namespace ${input.namespace} says injection: ${rule.injection}` };
  if (input.policy.defaults.enabled !== undefined)
    return { inject: input.policy.defaults.enabled, reason: `the policy's defaults.enabled is ${input.policy.defaults.enabled}` };
  const labelNote = label === undefined ? '' : ` (${INJECTION_LABEL}=${label} on the namespace is not enabled or disabled)`;
  return no(`nothing opts it in${labelNote}`);
}
