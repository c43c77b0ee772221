// One workload's opt-in and settings, from everything that can set them, highest precedence first:
// pod-template annotations > Deployment annotations > Namespace annotations > the policy's rule
// for the namespace > policy defaults > built-in defaults. The webhook asks this for a pod being
// created; the controller for a Deployment's pod template. Both must agree, so both call this.

import type { V1Deployment } from '@kubernetes/client-node';
import type { ObjectInfo } from './mutation.ts';
import { decideOptIn, type OptInDecision } from './opt-in.ts';
import type { Policy } from './policy.ts';
import { annotationLevel, policyLevel, resolveSettings, type Resolution } from './resolve.ts';

export interface WorkloadSources {
  /** The pod's (or the Deployment's pod template's) labels and annotations. */
  podTemplate: { labels?: Readonly<Record<string, string>>; annotations?: Readonly<Record<string, string>> };
  deployment: ObjectInfo | undefined;
  namespace: ObjectInfo;
  policy: Policy;
  ebbNamespace: string;
}

export type WorkloadResolution = { optIn: OptInDecision; resolution?: Resolution };

export function resolveWorkload({ podTemplate, deployment, namespace, policy, ebbNamespace }: WorkloadSources): WorkloadResolution {
  const podLevel = annotationLevel('pod template', podTemplate.annotations);
  const deploymentLevel = annotationLevel(`Deployment ${deployment?.name ?? '(none)'}`, deployment?.annotations);
  const namespaceLevel = annotationLevel(`Namespace ${namespace.name}`, namespace.annotations);
  const optIn = decideOptIn({
    namespace: namespace.name,
    ebbNamespace,
    namespaceLabels: namespace.labels,
    podLabels: podTemplate.labels,
    podAnnotations: podTemplate.annotations,
    pod: podLevel.values,
    deployment: deploymentLevel.values,
    namespaceSettings: namespaceLevel.values,
    policy,
  });
  if (!optIn.inject) return { optIn };
  const rule = policy.namespaces.get(namespace.name);
  const resolution = resolveSettings([
    podLevel,
    deploymentLevel,
    namespaceLevel,
    ...(rule ? [policyLevel(`policy rule for ${namespace.name}`, `namespaces.${namespace.name}`, rule.settings)] : []),
    policyLevel('policy defaults', 'defaults', policy.defaults),
  ]);
  return { optIn, resolution };
}

/** A Deployment's pod template and own metadata as the sources (the controller and `kubectl ebb` both resolve this way). */
export function resolveDeployment(deployment: V1Deployment, namespace: ObjectInfo, policy: Policy, ebbNamespace: string): WorkloadResolution {
  const template = deployment.spec?.template.metadata;
  return resolveWorkload({
    podTemplate: { labels: template?.labels, annotations: template?.annotations },
    deployment: { name: deployment.metadata?.name ?? '', labels: deployment.metadata?.labels, annotations: deployment.metadata?.annotations },
    namespace,
    policy,
    ebbNamespace,
  });
}
