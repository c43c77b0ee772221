// Pod + what the caches know (namespace, owning Deployment, policy, recommendation) → the JSON
// Patch the webhook returns. Pure: the same inputs give the same patch. Idempotent: a pod that
// already carries ebb's annotation or sidecar gets an empty patch, so a reinvoked webhook (or a
// second pass over the patched pod) changes nothing.
import type { V1Pod } from '@kubernetes/client-node';
import { formatAnnotations, INJECTED_ANNOTATION } from './annotations.ts';
import { addAnnotations } from './patch/annotations.ts';
import type { AddOperation } from './patch/json-patch.ts';
import type { ContainerBounds } from './patch/limit-range.ts';
import { addRequests } from './patch/requests.ts';
import { addSidecar, chooseAppPort, SIDECAR_NAME } from './patch/sidecar.ts';
import type { Policy } from './policy.ts';
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

export function isInjected(pod: V1Pod): boolean {
  return pod.metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined
    || (pod.spec?.initContainers ?? []).some((container) => container.name === SIDECAR_NAME);
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
  const appPort = chooseAppPort(pod, settings.port);
  const record: InjectedRecord = {
    v: INJECTION_VERSION,
    workload,
    settings: formatSettings(settings),
    sidecar: typeof appPort === 'string' ? `none: ${appPort}` : 'injected',
    ...(policy.dryRun ? { dryRun: true as const } : {}),
    ...(resolution.errors.length > 0 ? { errors: resolution.errors.map((error) => error.message) } : {}),
  };
  const injected = { [INJECTED_ANNOTATION]: JSON.stringify(record) };
  const result = (patch: AddOperation[]): MutationResult => ({ injected: true, reason: decision.reason, patch, settings, errors: resolution.errors });
  if (policy.dryRun) return result(addAnnotations(pod.metadata, injected));

  const { enabled: _enabled, ...scaling } = settings;
  return result([
    ...addAnnotations(pod.metadata, { ...injected, ...formatAnnotations(scaling) }),
    ...addRequests(pod.spec?.containers ?? [], { settings, defaults: policy.defaultRequests, recommendation: input.recommendation, bounds: input.containerBounds }),
    ...(typeof appPort === 'string' ? [] : addSidecar(pod, { policy: policy.sidecar, appPort, workload, bounds: input.containerBounds })),
  ]);
}
