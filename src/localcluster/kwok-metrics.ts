// KWOK as the nodes' kubelets for resource metrics: kwok serves, on its server port, a
// `/metrics/resource` per node in the kubelet's format (the Metric below), computed from
// ResourceUsage and ClusterResourceUsage objects that say what each container uses (a value, or a
// CEL expression that can vary with `pod.SinceSecond()`). Each node points at its own path the way
// metrics-server expects (daemonEndpoints port + the resource-metrics-path annotation), so ebb's
// agent finds it as it would find a real kubelet. KWOK reports `spec.containers` only, not
// native sidecars.
//
// The usages are custom resources (tests create them as they go); the Metric never changes, so
// it goes into kwok's --config: creating it as the first custom resource of a fresh API server
// took 2.0-2.3 s on every control-plane start (measured), against none from the file.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, CustomObjectsApi, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

/** kwok's `--enable-crds`: the kinds it watches in the API server instead of reading from --config. */
export const KWOK_USAGE_KINDS = ['ResourceUsage', 'ClusterResourceUsage'] as const;
const GROUP = 'kwok.x-k8s.io';
const VERSION = 'v1alpha1';
const CRD_FILES = ['kwok.x-k8s.io_resourceusages.yaml', 'kwok.x-k8s.io_clusterresourceusages.yaml'];

/** Where kwok serves a node's resource metrics; the node's `metrics.k8s.io/resource-metrics-path`. */
export const resourceMetricsPath = (nodeName: string): string => `/metrics/nodes/${nodeName}/metrics/resource`;

const containerLabels = [
  { name: 'container', value: 'container.name' },
  { name: 'namespace', value: 'pod.metadata.namespace' },
  { name: 'pod', value: 'pod.metadata.name' },
];
const podLabels = containerLabels.slice(1);

/**
 * The kubelet's /metrics/resource, after KWOK's own kustomize/metrics/resource/metrics-resource.yaml
 * with one change: KWOK's example reports a container's start time as `pod.SinceSecond()` (seconds
 * since creation, growing on every scrape); a kubelet reports the epoch second it started, which
 * is what tells a reader a restart from a running container.
 */
const resourceMetrics = {
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'Metric',
  metadata: { name: 'kubelet-metrics-resource' },
  spec: {
    path: resourceMetricsPath('{nodeName}'),
    metrics: [
      { name: 'scrape_error', dimension: 'node', kind: 'gauge', help: '1 if there was an error while getting metrics from the node, 0 otherwise', value: '0' },
      {
        name: 'container_start_time_seconds',
        dimension: 'container',
        kind: 'gauge',
        help: 'Start time of the container since unix epoch in seconds',
        labels: containerLabels,
        value: 'UnixSecond(pod.metadata.creationTimestamp)',
      },
      {
        name: 'container_cpu_usage_seconds_total',
        dimension: 'container',
        kind: 'counter',
        help: 'Cumulative cpu time consumed by the container in core-seconds',
        labels: containerLabels,
        value: 'pod.CumulativeUsage("cpu", container.name)',
      },
      {
        name: 'container_memory_working_set_bytes',
        dimension: 'container',
        kind: 'gauge',
        help: 'Current working set of the container in bytes',
        labels: containerLabels,
        value: 'pod.Usage("memory", container.name)',
      },
      {
        name: 'pod_cpu_usage_seconds_total',
        dimension: 'pod',
        kind: 'counter',
        help: 'Cumulative cpu time consumed by the pod in core-seconds',
        labels: podLabels,
        value: 'pod.CumulativeUsage("cpu")',
      },
      {
        name: 'pod_memory_working_set_bytes',
        dimension: 'pod',
        kind: 'gauge',
        help: 'Current working set of the pod in bytes',
        labels: podLabels,
        value: 'pod.Usage("memory")',
      },
      {
        name: 'node_cpu_usage_seconds_total',
        dimension: 'node',
        kind: 'counter',
        help: 'Cumulative cpu time consumed by the node in core-seconds',
        value: 'node.CumulativeUsage("cpu")',
      },
      {
        name: 'node_memory_working_set_bytes',
        dimension: 'node',
        kind: 'gauge',
        help: 'Current working set of the node in bytes',
        value: 'node.Usage("memory")',
      },
    ],
  },
};

/** CPU and memory of some containers: a quantity (`250m`, `64Mi`) or a CEL expression. */
export type UsageValue = { value: string } | { expression: string };
export interface ContainerUsageSpec {
  /** Containers by name; omitted: every container the selection covers. */
  containers?: string[];
  usage: { cpu?: UsageValue; memory?: UsageValue };
}

/** What one pod's containers use (KWOK's ResourceUsage is named and namespaced like its pod). */
export function resourceUsage(namespace: string, pod: string, usages: ContainerUsageSpec[]) {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'ResourceUsage', metadata: { namespace, name: pod }, spec: { usages } };
}

/** What the containers of the pods in some namespaces (or with some names) use. */
export function clusterResourceUsage(name: string, selector: { matchNamespaces?: string[]; matchNames?: string[] }, usages: ContainerUsageSpec[]) {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'ClusterResourceUsage', metadata: { name }, spec: { selector, usages } };
}

/** The Metric as a kwok --config document. */
export const KWOK_RESOURCE_METRICS_CONFIG = `${JSON.stringify(resourceMetrics, null, 2)}\n`;

/** Creates a ResourceUsage or ClusterResourceUsage. */
export async function createKwokObject(kubeConfig: KubeConfig, object: { kind: string; metadata: { name: string; namespace?: string } }): Promise<void> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const plural = `${object.kind.toLowerCase()}s`;
  const namespace = object.metadata.namespace;
  if (namespace) await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, body: object });
  else await api.createClusterCustomObject({ group: GROUP, version: VERSION, plural, body: object });
}

/** KWOK's CRDs for the usage kinds (vendored from kwok v0.8.0 in ./kwok-crds), established: kwok watches them from its start. */
export async function installKwokUsageCrds(kubeConfig: KubeConfig, deadline: number): Promise<void> {
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const definitions = CRD_FILES.flatMap((file) =>
    parseAllDocuments(readFileSync(join(import.meta.dirname, 'kwok-crds', file), 'utf8'))
      .map((document) => document.toJS() as V1CustomResourceDefinition | null)
      .filter((crd) => crd !== null),
  );
  await Promise.all(definitions.map((body) => extensions.createCustomResourceDefinition({ body })));
  for (const crd of definitions) {
    const name = crd.metadata!.name!;
    for (;;) {
      const stored = await extensions.readCustomResourceDefinition({ name });
      if (stored.status?.conditions?.some((condition) => condition.type === 'Established' && condition.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not established in time`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
