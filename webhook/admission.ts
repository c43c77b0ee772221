// AdmissionReview v1 in, AdmissionReview v1 out. Reads the cluster only through the ClusterView
// (informer caches): no API call while the API server waits for the answer. Any failure inside
// is answered with `allowed: true` and no patch: ebb must never stop a pod from being created.
import type { V1Pod, V1ResourceQuota } from '@kubernetes/client-node';
import type { ClusterView } from '../src/core/cluster-view.ts';
import { mutatePod, type MutationResult } from '../src/core/mutation.ts';
import { owningDeploymentName, owningReplicaSetName } from '../src/core/owner.ts';
import type { ContainerBounds } from '../src/core/patch/limit-range.ts';
import { fail, ok, type Result } from '../src/core/result.ts';
import type { AdmissionOutcome } from './metrics.ts';

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  dryRun?: boolean;
  object?: unknown;
}

export interface AdmissionResponseReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: { uid: string; allowed: true; patchType?: 'JSONPatch'; patch?: string };
}

export interface Admission {
  review: AdmissionResponseReview;
  outcome: AdmissionOutcome;
  /** The mutation's verdict, when it got that far (for metrics and logs). */
  mutation?: MutationResult;
  error?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A field's value as a 400 message quotes it: short strings, numbers and the like as JSON, anything
 * else by its type. Never the value whole: it came from the client, and may be megabytes long or
 * nested too deep for JSON.stringify.
 */
function quoted(value: unknown): string {
  if (typeof value === 'string') return value.length <= 64 ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, 64))}… (${value.length} characters)`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** The request of an AdmissionReview v1, or what is wrong with the body (answered with 400). */
export function readAdmissionReview(body: unknown): Result<AdmissionRequest> {
  if (!isObject(body)) return fail('the body is not a JSON object: expected an AdmissionReview');
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview') {
    return fail(`expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got ${quoted(body.apiVersion)} and ${quoted(body.kind)}`);
  }
  const request = body.request;
  if (!isObject(request)) return fail('the AdmissionReview has no request object');
  if (typeof request.uid !== 'string' || request.uid === '') return fail('the AdmissionReview request has no uid');
  return ok(request as unknown as AdmissionRequest);
}

function answer(uid: string, patch: readonly unknown[] = []): AdmissionResponseReview {
  const response: AdmissionResponseReview['response'] = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/** What the namespace's LimitRanges allow a container, from a cache (undefined: no bounds known). */
export type ContainerBoundsOf = (namespace: string) => ContainerBounds | undefined;
/** The namespace's ResourceQuotas, from a cache. */
export type ResourceQuotasOf = (namespace: string) => readonly V1ResourceQuota[];

/** What a namespace sets for every pod in it, which what ebb adds must pass. */
export interface NamespaceRules {
  containerBounds?: ContainerBoundsOf;
  resourceQuotas?: ResourceQuotasOf;
}

/** Decides one admission; never throws (an internal error is an `error` outcome that allows the pod). */
export function admit(request: AdmissionRequest, view: ClusterView, ebbNamespace: string, rules: NamespaceRules = {}): Admission {
  try {
    if (request.kind?.kind !== 'Pod' || request.operation !== 'CREATE' || !isObject(request.object)) {
      return { review: answer(request.uid), outcome: 'skipped' };
    }
    const pod = request.object as V1Pod;
    const namespaceName = request.namespace ?? pod.metadata?.namespace ?? 'default';
    const replicaSetName = owningReplicaSetName(pod.metadata);
    const deploymentName = replicaSetName === undefined ? undefined : owningDeploymentName(pod.metadata, view.replicaSet(namespaceName, replicaSetName));
    const mutation = mutatePod({
      pod,
      namespace: view.namespace(namespaceName) ?? { name: namespaceName },
      deployment: deploymentName === undefined ? undefined : (view.deployment(namespaceName, deploymentName) ?? { name: deploymentName }),
      policy: view.policy(),
      ebbNamespace,
      recommendation: deploymentName === undefined ? undefined : view.recommendation(namespaceName, deploymentName),
      containerBounds: rules.containerBounds?.(namespaceName),
      resourceQuotas: rules.resourceQuotas?.(namespaceName),
    });
    return { review: answer(request.uid, mutation.patch), outcome: mutation.injected ? 'injected' : 'skipped', mutation };
  } catch (error) {
    return { review: answer(request.uid), outcome: 'error', error };
  }
}
