// `kubectl ebb check`: is ebb installed and working, line by line, ✔ or ✘ with the fix, like
// `linkerd check`. Every check runs with the user's credentials; one that cannot be made (no
// access) is a ✘ that says which permission it needs, never a silent pass.
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  DiscoveryV1Api,
  type V1Deployment,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
  type V1ReplicaSet,
  type V1Service,
} from '@kubernetes/client-node';
import { INJECTED_ANNOTATION, STATUS_ANNOTATION } from '../../core/annotations.ts';
import { isInjected } from '../../core/mutation.ts';
import type { Policy } from '../../core/policy.ts';
import { agentsLine, exitCodeOf, expiryLine, failure, leaderLine, pass, type CheckLine } from '../../core/report/check.ts';
import type { Resolution } from '../../core/resolve.ts';
import { readStatus } from '../../core/status.ts';
import { servicesSelecting, unobservedTraffic } from '../../core/traffic-visibility.ts';
import { resolveDeployment } from '../../core/workload-settings.ts';
import type { CommonOptions } from './args.ts';
import { CliError, objectInfo, read, readOptional, readPolicy, type Cluster } from './cluster.ts';
import { structured } from './output.ts';

export const WEBHOOK_CONFIGURATION = 'ebb';
const WEBHOOK_NAME = 'pods.webhook.ebb.dev';
export const WEBHOOK_SECRET = 'ebb-webhook-tls';
export const LEASE = 'ebb-controller';
const AGENT_SELECTOR = 'app.kubernetes.io/name=ebb-agent';
/** A usage sample older than this means the agents no longer read the kubelets. */
const USAGE_FRESH_MS = 5 * 60_000;
/** A workload younger than this may not have its first usage sample yet. */
const USAGE_GRACE_MS = 2 * 60_000;

interface OptedIn {
  deployment: V1Deployment;
  key: string;
  resolution: Resolution;
}

export async function check(cluster: Cluster, now: number): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const ebb = cluster.ebbNamespace;
  const namespace = await guarded(cluster, `Namespace ${ebb}`, () =>
    readOptional(cluster, `Namespace ${ebb}`, () => cluster.core.readNamespace({ name: ebb })),
  );
  if ('line' in namespace) lines.push(namespace.line);
  else
    lines.push(
      namespace.value
        ? pass(`ebb namespace ${ebb}`)
        : failure(
            `ebb namespace ${ebb} not found: ebb is not installed here`,
            'install it with kubectl apply -k manifests, or pass --ebb-namespace if it runs elsewhere',
          ),
    );
  const workloads = await guarded(cluster, 'opted-in workloads', () => optedIn(cluster));
  const opted = 'line' in workloads ? [] : workloads.value.workloads;
  lines.push(...(await webhookLines(cluster, opted, now)));
  lines.push(
    await orFailure(cluster, `Lease ${ebb}/${LEASE}`, async () => {
      const lease = await readOptional(cluster, `Lease ${ebb}/${LEASE}`, () =>
        cluster.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace: ebb }),
      );
      return leaderLine(
        lease && {
          holder: lease.spec?.holderIdentity,
          renewedAt: lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : undefined,
          durationMs: (lease.spec?.leaseDurationSeconds ?? 0) * 1000,
        },
        `${ebb}/${LEASE}`,
        now,
      );
    }),
  );
  lines.push(
    await orFailure(cluster, 'Nodes and the agent pods', async () => {
      const [nodes, agents] = await Promise.all([
        read(cluster, 'Nodes', () => cluster.core.listNode()),
        read(cluster, `Pods in ${ebb}`, () => cluster.core.listNamespacedPod({ namespace: ebb, labelSelector: AGENT_SELECTOR })),
      ]);
      const ready = (pod: V1Pod) => pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true;
      return agentsLine(
        nodes.items.map((node) => node.metadata?.name ?? ''),
        agents.items.map((pod) => ({ name: pod.metadata?.name ?? '', node: pod.spec?.nodeName, ready: ready(pod) })),
        `${ebb}/ebb-agent`,
      );
    }),
  );
  if ('line' in workloads) {
    lines.push(workloads.line);
    return lines;
  }
  lines.push(kubeletMetricsLine(opted, now));
  lines.push(
    ...(await orFailures(cluster, 'Services in all namespaces', async () =>
      bypassLines(
        await read(cluster, 'Services in all namespaces', () => cluster.core.listServiceForAllNamespaces()).then((list) => list.items),
        opted,
        workloads.value.policy,
      ),
    )),
  );
  lines.push(
    ...(await orFailures(cluster, 'Pods in all namespaces', async () =>
      notInterceptedLines(await read(cluster, 'Pods in all namespaces', () => cluster.core.listPodForAllNamespaces()).then((list) => list.items), opted),
    )),
  );
  return lines;
}

async function optedIn(cluster: Cluster): Promise<{ workloads: OptedIn[]; policy: Policy }> {
  const [policy, deployments, namespaces] = await Promise.all([
    readPolicy(cluster),
    read(cluster, 'Deployments in all namespaces', () => cluster.apps.listDeploymentForAllNamespaces()),
    read(cluster, 'Namespaces', () => cluster.core.listNamespace()),
  ]);
  const namespaceOf = new Map(namespaces.items.map((item) => [item.metadata?.name ?? '', item]));
  const workloads = deployments.items.flatMap((deployment) => {
    const namespace = namespaceOf.get(deployment.metadata?.namespace ?? '');
    const resolution = namespace && resolveDeployment(deployment, objectInfo(namespace), policy.policy, cluster.ebbNamespace).resolution;
    return resolution ? [{ deployment, key: `${deployment.metadata?.namespace}/${deployment.metadata?.name}`, resolution }] : [];
  });
  return { workloads, policy: policy.policy };
}

/** A check that could not be made is a ✘ naming the read that was refused. */
async function guarded<T>(cluster: Cluster, what: string, run: () => Promise<T>): Promise<{ value: T } | { line: CheckLine }> {
  try {
    return { value: await run() };
  } catch (error) {
    // No other read can succeed either: one error, not a ✘ per line.
    if (error instanceof CliError && error.kind === 'unreachable') throw error;
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
    const forbidden = error instanceof CliError && error.kind === 'refused';
    return {
      line: failure(
        `cannot check ${what}: ${message}`,
        forbidden ? `run kubectl ebb check with credentials that may read ${what}` : 'check that the API server answers (kubectl get --raw /readyz)',
      ),
    };
  }
}

async function orFailure(cluster: Cluster, what: string, run: () => Promise<CheckLine>): Promise<CheckLine> {
  const result = await guarded(cluster, what, run);
  return 'line' in result ? result.line : result.value;
}

async function orFailures(cluster: Cluster, what: string, run: () => Promise<CheckLine[]>): Promise<CheckLine[]> {
  const result = await guarded(cluster, what, run);
  return 'line' in result ? [result.line] : result.value;
}

// ---- the webhook ----

async function webhookConfiguration(cluster: Cluster): Promise<V1MutatingWebhookConfiguration | undefined> {
  const api = cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const what = `MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION}`;
  const named = await readOptional(cluster, what, () => api.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION }));
  if (named) return named;
  // Registered under another name (a renamed install, a test's): found by its webhook's name.
  const all = await read(cluster, 'MutatingWebhookConfigurations', () => api.listMutatingWebhookConfiguration());
  return all.items.find((configuration) => configuration.webhooks?.some((webhook) => webhook.name === WEBHOOK_NAME));
}

async function webhookLines(cluster: Cluster, workloads: readonly OptedIn[], now: number): Promise<CheckLine[]> {
  const found = await guarded(cluster, 'the MutatingWebhookConfigurations', () => webhookConfiguration(cluster));
  if ('line' in found) return [found.line];
  const webhook = found.value?.webhooks?.find((candidate) => candidate.name === WEBHOOK_NAME);
  if (!found.value || !webhook) {
    return [
      failure(
        `webhook registered: no MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION} with webhook ${WEBHOOK_NAME}, so pods are created without ebb`,
        'apply the manifests: kubectl apply -k manifests',
      ),
    ];
  }
  const { url, service } = webhook.clientConfig;
  const target = url ?? `service ${service?.namespace}/${service?.name}:${service?.port ?? 443}${service?.path ?? ''}`;
  const lines = [pass(`webhook registered: MutatingWebhookConfiguration ${found.value.metadata?.name} calls ${target}`)];
  const caBundle = webhook.clientConfig.caBundle ? Buffer.from(webhook.clientConfig.caBundle, 'base64').toString('utf8') : '';
  if (caBundle.trim() === '') {
    lines.push(
      failure(
        'webhook caBundle is empty: the API server cannot verify the webhook, and admits pods without ebb',
        `the controller writes it from Secret ${cluster.ebbNamespace}/${WEBHOOK_SECRET} (ca.crt): check that the Secret exists and the controller's log`,
      ),
    );
    return lines;
  }
  lines.push(...(url ? await urlWebhookLines(url, caBundle, now) : await serviceWebhookLines(cluster, caBundle, service!, now)));
  lines.push(await orFailure(cluster, 'a dry-run pod', () => answeringLine(cluster, workloads)));
  return lines;
}

/** The CA certificates of a PEM bundle; unreadable ones are left out. */
function certificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).flatMap((one) => {
    try {
      return [new X509Certificate(one)];
    } catch {
      return [];
    }
  });
}

const EXPIRY_FIX =
  "the controller (self-managed) or cert-manager renews it with a third of its life left; if it did not, see the controller's log or the Certificate ebb-webhook";

/** In a cluster: the serving certificate in the Secret the webhook mounts, and the Service's ready endpoints. */
async function serviceWebhookLines(cluster: Cluster, caBundle: string, service: { namespace: string; name: string }, now: number): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const where = `${cluster.ebbNamespace}/${WEBHOOK_SECRET}`;
  lines.push(
    ...(await orFailures(cluster, `Secret ${where}`, async () => {
      const secret = await readOptional(cluster, `Secret ${where}`, () =>
        cluster.core.readNamespacedSecret({ name: WEBHOOK_SECRET, namespace: cluster.ebbNamespace }),
      );
      const crt = secret?.data?.['tls.crt'];
      if (!crt)
        return [
          failure(
            `serving certificate: no Secret ${where} with tls.crt, so the webhook cannot serve`,
            "the controller creates it (EBB_WEBHOOK_CERTIFICATES=self-managed, the manifests' default), or cert-manager's Certificate ebb-webhook: see the controller's log",
          ),
        ];
      const [serving] = certificates(Buffer.from(crt, 'base64').toString('utf8'));
      if (!serving)
        return [
          failure(
            `serving certificate: tls.crt in Secret ${where} is not a PEM certificate`,
            'the controller replaces it (self-managed): see its log; or delete the Secret, and the controller or cert-manager makes a new one',
          ),
        ];
      const trusted = certificates(caBundle).some((ca) => serving.checkIssued(ca) && serving.verify(ca.publicKey));
      return [
        trusted
          ? pass(`caBundle matches the serving certificate (Secret ${where})`)
          : failure(
              `caBundle does not match the serving certificate in Secret ${where}: the API server rejects the webhook's TLS and admits pods without ebb`,
              `the controller copies the Secret's ca.crt into the caBundle: check its log, or restart it (kubectl -n ${cluster.ebbNamespace} rollout restart deploy/ebb-controller)`,
            ),
        expiryLine('serving certificate', Date.parse(serving.validTo), now, EXPIRY_FIX),
      ];
    })),
  );
  lines.push(
    await orFailure(cluster, `EndpointSlices of Service ${service.namespace}/${service.name}`, async () => {
      const slices = await read(cluster, `EndpointSlices in ${service.namespace}`, () =>
        cluster.kubeConfig
          .makeApiClient(DiscoveryV1Api)
          .listNamespacedEndpointSlice({ namespace: service.namespace, labelSelector: `kubernetes.io/service-name=${service.name}` }),
      );
      const ready = slices.items.flatMap((slice) => slice.endpoints).filter((endpoint) => endpoint.conditions?.ready !== false).length;
      return ready > 0
        ? pass(`webhook reachable: Service ${service.namespace}/${service.name} has ${ready} ready endpoint${ready === 1 ? '' : 's'}`)
        : failure(
            `webhook unreachable: Service ${service.namespace}/${service.name} has no ready endpoint`,
            `see kubectl -n ${service.namespace} get pods -l app.kubernetes.io/name=ebb-webhook, and their logs`,
          );
    }),
  );
  return lines;
}

/** Registered by URL (a local install): this machine dials it as the API server does, trusting only the caBundle. */
async function urlWebhookLines(url: string, caBundle: string, now: number): Promise<CheckLine[]> {
  const health = new URL('/healthz', url);
  const answer = await new Promise<{ status: number; validTo?: string } | { error: string }>((resolve) => {
    const req = request(health, { ca: caBundle, agent: false, timeout: 3_000 }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      res.resume();
      resolve({ status: res.statusCode ?? 0, validTo: peer.valid_to });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ? `${error.code}: ${error.message}` : error.message }));
    req.end();
  });
  if ('error' in answer) {
    const tls = /CERT|SELF_SIGNED|SIGNATURE|ISSUER/.test(answer.error);
    return [
      tls
        ? failure(
            `caBundle does not match the certificate served at ${url}: ${answer.error}`,
            "the caBundle must hold the CA that signed the webhook's serving certificate",
          )
        : failure(`webhook unreachable at ${url}: ${answer.error}`, 'start the webhook, or fix the URL in the MutatingWebhookConfiguration'),
    ];
  }
  return [
    pass(`caBundle matches the certificate served at ${url}`),
    answer.status === 200
      ? pass(`webhook reachable: ${health.href} answers 200`)
      : failure(`webhook reachable but unwell: ${health.href} answers ${answer.status}`, "see the webhook's log"),
    ...(answer.validTo ? [expiryLine('serving certificate', Date.parse(answer.validTo), now, EXPIRY_FIX)] : []),
  ];
}

/**
 * The API server really calls the webhook: a pod of an opted-in workload's ReplicaSet, created as
 * a server-side dry run (nothing is stored; the webhook declares no side effects), comes back with
 * ebb's annotation. The webhook fails open, so without it the pod comes back unchanged.
 */
async function answeringLine(cluster: Cluster, workloads: readonly OptedIn[]): Promise<CheckLine> {
  for (const { deployment, key } of workloads) {
    const namespace = deployment.metadata?.namespace ?? '';
    const replicaSets = await read(cluster, `ReplicaSets in ${namespace}`, () => cluster.apps.listNamespacedReplicaSet({ namespace }));
    const replicaSet = newestOf(
      replicaSets.items.filter((candidate) => candidate.metadata?.ownerReferences?.some((owner) => owner.uid === deployment.metadata?.uid)),
    );
    if (!replicaSet?.spec?.template?.spec) continue;
    const pod: V1Pod = {
      metadata: {
        generateName: `${replicaSet.metadata?.name}-ebb-check-`,
        namespace,
        labels: replicaSet.spec.template.metadata?.labels,
        annotations: replicaSet.spec.template.metadata?.annotations,
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: replicaSet.metadata?.name ?? '', uid: replicaSet.metadata?.uid ?? '', controller: true },
        ],
      },
      spec: replicaSet.spec.template.spec,
    };
    const created = await read(cluster, `Pods in ${namespace} (a dry-run create)`, () =>
      cluster.core.createNamespacedPod({ namespace, body: pod, dryRun: 'All' }),
    );
    return created.metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined
      ? pass(`webhook answering: a dry-run pod of ${key} was admitted with ebb's changes`)
      : failure(
          `webhook not answering: a dry-run pod of ${key} was admitted without ebb's changes (the API server fails open when the webhook does not answer)`,
          `see the webhook's log (kubectl -n ${cluster.ebbNamespace} logs deploy/ebb-webhook) and the API server's`,
        );
  }
  return pass('webhook answering: not probed (no opted-in workload with a ReplicaSet to admit a dry-run pod of)');
}

function newestOf(replicaSets: readonly V1ReplicaSet[]): V1ReplicaSet | undefined {
  const revision = (replicaSet: V1ReplicaSet) => Number(replicaSet.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
  return [...replicaSets].sort((a, b) => revision(b) - revision(a))[0];
}

// ---- the workloads ----

/** The agents' kubelet readings reach ebb when some recommendation has a recent usage sample. */
function kubeletMetricsLine(workloads: readonly OptedIn[], now: number): CheckLine {
  const samples = workloads
    .flatMap(({ deployment, key }) => {
      const containers =
        (
          readStatus(deployment.metadata?.annotations?.[STATUS_ANNOTATION])?.recommendation as
            { containers?: Record<string, { newestSample?: unknown }> } | undefined
        )?.containers ?? {};
      return Object.values(containers).flatMap((container) =>
        typeof container?.newestSample === 'string' ? [{ key, at: Date.parse(container.newestSample) }] : [],
      );
    })
    .sort((a, b) => b.at - a.at);
  const newest = samples[0];
  if (newest && now - newest.at <= USAGE_FRESH_MS) {
    return pass(`kubelet resource metrics reach ebb: newest usage sample ${Math.max(0, Math.round((now - newest.at) / 1000))}s old (${newest.key})`);
  }
  const waiting = workloads.filter(
    ({ deployment }) => (deployment.status?.readyReplicas ?? 0) > 0 && now - new Date(deployment.metadata?.creationTimestamp ?? now).getTime() > USAGE_GRACE_MS,
  );
  if (waiting.length === 0) return pass('kubelet resource metrics: nothing to read yet (no opted-in workload has run pods for 2 minutes)');
  const age = newest ? `the newest is ${Math.round((now - newest.at) / 60_000)} min old` : 'none at all';
  return failure(
    `kubelet resource metrics do not reach ebb: no usage sample in the last ${USAGE_FRESH_MS / 60_000} min for ${waiting.length} running opted-in workload${waiting.length === 1 ? '' : 's'} (${age})`,
    "the agents read each kubelet's /metrics/resource with nodes/metrics get (manifests/agent/rbac.yaml): look for kubelet scrape failures in the agents' logs and ebb_agent_kubelet_scrape_failures_total",
  );
}

function bypassLines(services: readonly V1Service[], workloads: readonly OptedIn[], policy: Policy): CheckLine[] {
  const lines = workloads.flatMap(({ deployment, key, resolution }) => {
    const template = deployment.spec?.template;
    const causes = unobservedTraffic({
      template,
      traffic: { port: resolution.settings.port },
      listenPort: policy.sidecar.listenPort,
      dryRun: policy.dryRun,
      services: servicesSelecting(
        services.filter((service) => service.metadata?.namespace === deployment.metadata?.namespace),
        template?.metadata?.labels,
      ),
    });
    return causes.map((cause) => {
      const split = cause.indexOf(': ');
      return failure(
        `traffic of ${key} goes around the interceptor: ${split > 0 ? cause.slice(0, split) : cause}`,
        split > 0 ? cause.slice(split + 2) : 'see the Warning Events on the Deployment',
      );
    });
  });
  return lines.length > 0 ? lines : [pass(`no Service bypasses the interceptor (${workloads.length} opted-in workload${workloads.length === 1 ? '' : 's'})`)];
}

function notInterceptedLines(pods: readonly V1Pod[], workloads: readonly OptedIn[]): CheckLine[] {
  const lines = workloads.flatMap(({ deployment, key }) => {
    const selector = deployment.spec?.selector.matchLabels ?? {};
    const own = pods.filter(
      (pod) =>
        pod.metadata?.namespace === deployment.metadata?.namespace &&
        !pod.metadata?.deletionTimestamp &&
        pod.status?.phase !== 'Succeeded' &&
        pod.status?.phase !== 'Failed' &&
        Object.keys(selector).length > 0 &&
        Object.entries(selector).every(([label, value]) => pod.metadata?.labels?.[label] === value),
    );
    const bare = own.filter((pod) => !isInjected(pod)).map((pod) => pod.metadata?.name ?? '');
    if (bare.length === 0) return [];
    const [namespace, name] = key.split('/');
    return [
      failure(
        `${key}: ${bare.length} of ${own.length} pods run without ebb's interceptor (${bare.slice(0, 3).join(', ')}${bare.length > 3 ? ', …' : ''})`,
        `they were created while the webhook did not answer (it fails open) or before the workload opted in: once the webhook answers, kubectl -n ${namespace} rollout restart deployment/${name} (the controller also replaces them, one at a time)`,
      ),
    ];
  });
  return lines.length > 0 ? lines : [pass("every pod of the opted-in workloads has ebb's interceptor")];
}

export function renderCheck(lines: readonly CheckLine[], ebbNamespace: string): string {
  const failed = lines.filter((line) => !line.ok).length;
  const body = lines.map((line) => (line.ok ? `✔ ${line.title}\n` : `✘ ${line.title}\n    fix: ${line.fix}\n`)).join('');
  const summary =
    failed === 0
      ? `\nStatus check results are ✔ (ebb in ${ebbNamespace})\n`
      : `\nStatus check results are ✘: ${failed} problem${failed === 1 ? '' : 's'} (ebb in ${ebbNamespace})\n`;
  return body + summary;
}

export async function runCheck(cluster: Cluster, options: CommonOptions, now: number): Promise<{ text: string; exitCode: number }> {
  const lines = await check(cluster, now);
  return {
    text: structured(options.output, { ok: exitCodeOf(lines) === 0, checks: lines }) ?? renderCheck(lines, cluster.ebbNamespace),
    exitCode: exitCodeOf(lines),
  };
}
