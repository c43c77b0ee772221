// `kubectl ebb status`: every opted-in workload, from the Deployments, their Namespaces and the
// policy (the same resolution the controller makes), and the `ebb.dev/status` annotation.
import type { V1Deployment, V1Namespace, V1Service } from '@kubernetes/client-node';
import { amountsOf, type Amounts } from '../../core/pod-resources.ts';
import { STATUS_ANNOTATION } from '../../core/annotations.ts';
import { LOCAL_URL_ANNOTATION, localUrlsOf, type LocalUrl } from '../../core/report/local-urls.ts';
import { totalSaved, workloadStatus, type ContainerSizing, type WorkloadStatus } from '../../core/report/workload-status.ts';
import { readStatus } from '../../core/status.ts';
import { resolveDeployment } from '../../core/workload-settings.ts';
import type { CommonOptions } from './args.ts';
import { CliError, objectInfo, read, readPolicy, requireEbb, type Cluster } from './cluster.ts';
import { age, cpu, memory, structured, table } from './output.ts';

/** A workload as status lists it; `localUrls` only where the local sandbox serves its Services. */
export type StatusRow = WorkloadStatus & { localUrls?: LocalUrl[] };

export interface StatusReport {
  workloads: StatusRow[];
  /** Requests saved across the running pods of the workloads listed (negative: added); CPU in millicores, memory in bytes, as every amount here. */
  saved: Required<Amounts>;
  /** Set when the policy could not be read: ebb runs on its last valid one. */
  policyErrors?: string[];
}

export async function statusReport(cluster: Cluster, namespace: string | undefined): Promise<StatusReport> {
  await requireEbb(cluster);
  const where = namespace === undefined ? 'in all namespaces' : `in namespace ${namespace}`;
  const [policy, deployments, namespaces, services] = await Promise.all([
    readPolicy(cluster),
    read(cluster, `Deployments ${where}`, () =>
      namespace === undefined ? cluster.apps.listDeploymentForAllNamespaces() : cluster.apps.listNamespacedDeployment({ namespace }),
    ),
    read(cluster, 'Namespaces', () => cluster.core.listNamespace()),
    sandboxServices(cluster, namespace, where),
  ]);
  const namespaceOf = new Map(namespaces.items.map((item) => [item.metadata?.name ?? '', item]));
  const workloads = deployments.items
    .flatMap((deployment) => {
      const ns = namespaceOf.get(deployment.metadata?.namespace ?? '');
      return ns ? statusOf(deployment, ns, policy.policy, cluster.ebbNamespace).map((row) => withLocalUrls(row, deployment, services)) : [];
    })
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return {
    workloads,
    saved: totalSaved(workloads),
    ...(policy.errors.length > 0 ? { policyErrors: policy.errors.map((error) => error.message) } : {}),
  };
}

/**
 * The Services, for the local sandbox's URLs on them (`npm start`). Nothing else of status needs
 * them, so a user who may not list Services still gets the rest, without local URLs.
 */
async function sandboxServices(cluster: Cluster, namespace: string | undefined, where: string): Promise<V1Service[]> {
  try {
    const list = await read(cluster, `Services ${where}`, () =>
      namespace === undefined ? cluster.core.listServiceForAllNamespaces() : cluster.core.listNamespacedService({ namespace }),
    );
    return list.items;
  } catch (error) {
    if (error instanceof CliError && error.kind === 'refused') return [];
    throw error;
  }
}

function withLocalUrls(row: WorkloadStatus, deployment: V1Deployment, services: readonly V1Service[]): StatusRow {
  const own = services.filter((service) => service.metadata?.namespace === row.namespace);
  const localUrls = localUrlsOf(own, deployment.spec?.template.metadata?.labels);
  return localUrls.length > 0 ? { ...row, localUrls } : row;
}

function statusOf(deployment: V1Deployment, namespace: V1Namespace, policy: Parameters<typeof resolveDeployment>[2], ebbNamespace: string): WorkloadStatus[] {
  const { resolution } = resolveDeployment(deployment, objectInfo(namespace), policy, ebbNamespace);
  if (!resolution) return [];
  return [
    workloadStatus({
      namespace: deployment.metadata?.namespace ?? '',
      name: deployment.metadata?.name ?? '',
      resize: resolution.settings.resize,
      replicas: { spec: deployment.spec?.replicas ?? 1, actual: deployment.status?.replicas ?? 0, ready: deployment.status?.readyReplicas ?? 0 },
      status: readStatus(deployment.metadata?.annotations?.[STATUS_ANNOTATION]),
      containers: (deployment.spec?.template.spec?.containers ?? []).map((container) => ({
        name: container.name,
        requests: amountsOf(container.resources?.requests),
      })),
      defaultRequests: policy.defaultRequests,
    }),
  ];
}

/** `app 1/1Gi → 56m/63Mi`, one per container; `→ ?` before the first recommendation; `(raise-only)` while it may not lower. */
function sizing(containers: readonly ContainerSizing[]): string {
  return containers
    .map(({ name, requests, recommendation, raiseOnly }) => {
      const now = `${cpu(requests.cpu)}/${memory(requests.memory)}`;
      const next = recommendation ? `${cpu(recommendation.cpu)}/${memory(recommendation.memory)}${raiseOnly ? ' (raise-only)' : ''}` : '?';
      return `${name} ${now} → ${next}`;
    })
    .join(', ');
}

/** `web:80 http://127.0.0.1:41001/`, one per Service port. */
const localUrlsCell = (urls: readonly LocalUrl[] | undefined) => (urls ?? []).map(({ service, port, url }) => `${service}:${port} ${url}`).join(', ') || '-';

export function renderStatus(report: StatusReport, now: number): string {
  // The column is the local sandbox's: shown only when some workload has a local URL.
  const withUrls = report.workloads.some((workload) => workload.localUrls);
  const rows = report.workloads.map((workload) => [
    workload.namespace,
    workload.name,
    workload.resize,
    `${workload.replicas.desired}/${workload.replicas.actual}/${workload.replicas.ready}`,
    workload.inFlight === null ? '-' : String(workload.inFlight),
    age(workload.lastRequestAt, now),
    workload.reason ?? '-',
    age(workload.updatedAt, now),
    sizing(workload.containers),
    ...(withUrls ? [localUrlsCell(workload.localUrls)] : []),
  ]);
  const headers = [
    'NAMESPACE',
    'NAME',
    'RESIZE',
    'REPLICAS(D/A/R)',
    'IN-FLIGHT',
    'LAST-REQUEST',
    'REASON',
    'WRITTEN',
    'REQUESTS → RECOMMENDED (CPU/MEMORY)',
    ...(withUrls ? ['LOCAL-URL'] : []),
  ];
  const lines = [
    report.workloads.length === 0
      ? 'No opted-in workloads. Opt one in with the annotation ebb.dev/enabled: "true", or a namespace with the label ebb.dev/injection=enabled.\n'
      : table(headers, rows),
    '\nREASON, IN-FLIGHT and LAST-REQUEST are as the controller WRITTEN them into ebb.dev/status (at a change of decision, else every 5–7.5 min).\n',
    `Saved by right-sizing, across the running pods: CPU ${cpu(report.saved.cpu)}, memory ${memory(report.saved.memory)} (requests before ebb less requests recommended)\n`,
    ...(withUrls ? [`LOCAL-URL is where the local sandbox (npm start) serves the workload's Services, per Service port (${LOCAL_URL_ANNOTATION}).\n`] : []),
    ...(report.policyErrors ?? []).map((error) => `warning: ${error}\n`),
  ];
  return lines.join('');
}

export async function runStatus(cluster: Cluster, options: CommonOptions, now: number): Promise<string> {
  const report = await statusReport(cluster, options.namespace);
  return structured(options.output, report) ?? renderStatus(report, now);
}
