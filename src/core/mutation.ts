// Pod + what the caches know (namespace, owning Deployment, policy, recommendation) → the JSON
// Patch the webhook returns. Pure: the same inputs give the same patch. Idempotent: a pod that
// already carries ebb's annotation or sidecar gets an empty patch, so a reinvoked webhook (or a
// second pass over the patched pod) changes nothing.
import type { V1Pod, V1ResourceQuota } from '@kubernetes/client-node';
import { formatAnnotations, INJECTED_ANNOTATION } from './annotations.ts';
import { addAnnotations } from './patch/annotations.ts';
import type { AddOperation } from './patch/json-patch.ts';
import { UNBOUNDED, type ContainerBounds } from './patch/limit-range.ts';
import { describeShortfall, limitsTracked, quotaShortfall, quotasSelecting } from './patch/quota.ts';
import { addResources, planRequests, type AppResources } from './patch/requests.ts';
import { SIDECAR_NAME } from '../protocol/sidecar.ts';
import { addSidecar, chooseAppPort, sidecarResources, type AppPort } from './patch/sidecar.ts';
import { podAmounts, podContainers, withChanges, type ContainerAmounts, type PodContainers } from './pod-resources.ts';
import type { Policy } from './policy.ts';
import { qosOf, type QosClass } from './qos.ts';
import type { Recommendation } from './recommendation.ts';
import { formatSettings, type ConfigError, type ResolvedSettings } from './setting-schema.ts';
import { resolveWorkload } from './workload-settings.ts';

/** The version of what ebb injects; in `ebb.dev/injected` so a later ebb can tell old pods apart. */
export const INJECTION_VERSION = 1;

export interface ObjectInfo {
  name: string;
  labels?: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

export interface MutationInput {
  pod: V1Pod;
  namespace: ObjectInfo;
  /** The owning Deployment; undefined when the pod has none (ebb scales Deployments only). */
  deployment: ObjectInfo | undefined;
  policy: Policy;
  ebbNamespace: string;
  recommendation?: Recommendation;
  /** What the namespace's LimitRanges allow a container; what ebb adds must fit. */
  containerBounds?: ContainerBounds;
  /** The namespace's ResourceQuotas; the pod as ebb leaves it must pass them. */
  resourceQuotas?: readonly V1ResourceQuota[];
}

export interface MutationResult {
  injected: boolean;
  /** Why the pod was or was not injected, for logs. */
  reason: string;
  patch: AddOperation[];
  settings?: ResolvedSettings;
  /** Annotation values that were not accepted (and skipped). */
  errors: ConfigError[];
}

/** What `ebb.dev/injected` holds: compact JSON that `kubectl describe` users and ebb can read. */
export interface InjectedRecord {
  v: number;
  workload: string;
  /** The resolved settings in annotation form (`"idle-after":"15m"`). */
  settings: Partial<Record<string, string>>;
  /** `injected`, or `none: <why>`. */
  sidecar: string;
  dryRun?: true;
  errors?: string[];
}

const skip = (reason: string, errors: ConfigError[] = []): MutationResult => ({ injected: false, reason, patch: [], errors });

interface SidecarContext {
  policy: Policy;
  port: string | number | undefined;
  /** The pod's resources and QoS class as it arrived. */
  amounts: PodContainers;
  qos: QosClass;
  bounds: ContainerBounds;
  quotas: readonly V1ResourceQuota[];
  /** The requests and limits ebb sets in the app containers. */
  app: AppResources;
}

/**
 * The sidecar's port and resources, or why there is none: no port to intercept, or a quota with
 * no room for it (the pod is better admitted without the sidecar than refused with it).
 */
function planSidecar(pod: V1Pod, context: SidecarContext): { appPort: AppPort; resources: ContainerAmounts } | string {
  const appPort = chooseAppPort(pod, context.port);
  if (typeof appPort === 'string') return appPort;
  const quotas = quotasSelecting(context.quotas, pod, context.qos);
  const resources = sidecarResources(context.policy.sidecar, { qos: context.qos, bounds: context.bounds, limitsTracked: limitsTracked(quotas) });
  if (quotas.length === 0) return { appPort, resources };
  const usage = (sidecar?: ContainerAmounts) => podAmounts(withChanges(context.amounts, { ...context.app, sidecar }));
  const shortfall = quotaShortfall(quotas, usage(), usage(resources));
  return shortfall ? describeShortfall(shortfall) : { appPort, resources };
}

export function isInjected(pod: V1Pod): boolean {
  return (
    pod.metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined || (pod.spec?.initContainers ?? []).some((container) => container.name === SIDECAR_NAME)
  );
}

export function mutatePod(input: MutationInput): MutationResult {
  const { pod, namespace, deployment, policy } = input;
  if (isInjected(pod)) return skip('already injected');
  const { optIn: decision, resolution } = resolveWorkload({
    podTemplate: { labels: pod.metadata?.labels, annotations: pod.metadata?.annotations },
    deployment,
    namespace,
    policy,
    ebbNamespace: input.ebbNamespace,
  });
  if (!decision.inject || !resolution) return skip(decision.reason);
  if (!deployment) return skip('it is not owned by a Deployment (ebb scales Deployments)');

  const settings: ResolvedSettings = { ...resolution.settings, enabled: true };
  const workload = `${namespace.name}/${deployment.name}`;
  const amounts = podContainers(pod.spec);
  const qos = qosOf(amounts);
  const bounds = input.containerBounds ?? UNBOUNDED;
  const containers = pod.spec?.containers ?? [];
  const app = planRequests(containers, { settings, defaults: policy.defaultRequests, recommendation: input.recommendation, bounds, pod: amounts, qos });
  const sidecar = planSidecar(pod, { policy, port: settings.port, amounts, qos, bounds, quotas: input.resourceQuotas ?? [], app });
  const record: InjectedRecord = {
    v: INJECTION_VERSION,
    workload,
    settings: formatSettings(settings),
    sidecar: typeof sidecar === 'string' ? `none: ${sidecar}` : 'injected',
    ...(policy.dryRun ? { dryRun: true as const } : {}),
    ...(resolution.errors.length > 0 ? { errors: resolution.errors.map((error) => error.message) } : {}),
  };
  const injected = { [INJECTED_ANNOTATION]: JSON.stringify(record) };
  const result = (patch: AddOperation[]): MutationResult => ({ injected: true, reason: decision.reason, patch, settings, errors: resolution.errors });
  if (policy.dryRun) return result(addAnnotations(pod.metadata, injected));

  const { enabled: _enabled, ...scaling } = settings;
  return result([
    ...addAnnotations(pod.metadata, { ...injected, ...formatAnnotations(scaling) }),
    ...addResources(containers, app),
    ...(typeof sidecar === 'string' ? [] : addSidecar(pod, { policy: policy.sidecar, workload, ...sidecar })),
  ]);
}
