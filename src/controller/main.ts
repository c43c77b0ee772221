// The controller program: leader election, informer caches, a tick that pulls activity from the
// agents and scales every opted-in Deployment, the wake-up API for the agents, and the webhook's
// caBundle kept current. Settings come from the environment: see config.ts.

import { existsSync, readFileSync } from 'node:fs';
import { AppsV1Api, AuthenticationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { mergeReports } from '../core/activity/merge-reports.ts';
import { nextStatus, statusFields } from '../core/status.ts';
import { trafficStatus, unobservedTraffic } from '../core/traffic-visibility.ts';
import { STATUS_ANNOTATION } from '../core/annotations.ts';
import { ensureWebhookCaBundle } from '../kube/ca-bundle.ts';
import { ClusterCache } from '../kube/cluster-cache.ts';
import { EventRecorder } from '../kube/events.ts';
import { evictPod } from '../kube/eviction.ts';
import { LeaderElector } from '../kube/leader-election.ts';
import { PodResizer } from '../kube/pod-resize.ts';
import { CheckpointStore } from '../kube/sizing-checkpoints.ts';
import { readScale, writeScale } from '../kube/scale.ts';
import { WorkloadPods } from '../kube/workload-pods.ts';
import { AGENT_ACCOUNT, CachingTokenVerifier, serviceAccountIdentity, TokenReviewVerifier } from '../protocol/auth.ts';
import { TokenFile } from '../protocol/token-file.ts';
import { parseWorkloadKey } from '../protocol/workload.ts';
import { collectActivity, collectUsage, StaticAgentDirectory, type AgentDirectory } from './agents.ts';
import { ClusterWatch } from './cluster-watch.ts';
import { controllerConfig } from './config.ts';
import { DisruptionManager } from './disruptions.ts';
import { SharedAgentKubeConfig } from './kube-config.ts';
import { concurrencyLimit } from '../kube/concurrency-limit.ts';
import { ControllerMetrics } from './metrics.ts';
import { Repair } from './repair.ts';
import { Resizer } from './resizer.ts';
import { ActivatorRouting } from './routing.ts';
import { SizingLoop } from './sizing.ts';
import { Scaler, type WorkloadView } from './scaler.ts';
import { createControllerServer } from './server.ts';
import { WorkloadSource, type Workload } from './workloads.ts';
import { createLog, startupOrExit } from '../program/log.ts';

const log = createLog('controller');
const config = startupOrExit(log, () => controllerConfig(process.env));

const kubeConfig = new SharedAgentKubeConfig();
kubeConfig.loadFromDefault();
const apps = kubeConfig.makeApiClient(AppsV1Api);
const metrics = new ControllerMetrics();
const events = new EventRecorder(kubeConfig, 'ebb-controller');
const deploymentTarget = (deployment: V1Deployment) => ({
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  namespace: deployment.metadata?.namespace ?? '',
  name: deployment.metadata?.name ?? '',
  uid: deployment.metadata?.uid,
});
const report = (what: string) => (error: unknown) => log('warn', `${what}: ${error instanceof Error ? error.message : String(error)}`);

const cache = new ClusterCache(kubeConfig, {
  namespace: config.namespace,
  onPolicyErrors: (errors) => errors.forEach((error) => metrics.configErrors.inc({ key: error.key })),
  onPolicyLoaded: () => log('info', 'policy loaded'),
  log: (msg) => log('warn', msg),
});
const watch = new ClusterWatch(kubeConfig, config.namespace, (msg) => log('warn', msg));
const workloads = new WorkloadSource({
  cache,
  ebbNamespace: config.namespace,
  onErrors: (deployment, errors) => {
    for (const error of errors) {
      metrics.configErrors.inc({ key: error.key });
      void events.record(deploymentTarget(deployment), 'Warning', 'InvalidSetting', `${error.message}; keeping the last valid value`).catch(report('event'));
    }
  },
});
const elector = new LeaderElector(kubeConfig, {
  namespace: config.namespace,
  name: config.lease.name,
  identity: config.identity,
  leaseDurationMs: config.lease.durationMs,
  renewDeadlineMs: config.lease.renewDeadlineMs,
  retryPeriodMs: config.lease.retryPeriodMs,
  onStartedLeading: () => {
    metrics.leader.set(1);
    void keepCaBundle();
  },
  onStoppedLeading: () => metrics.leader.set(0),
  log: (msg) => log('info', msg),
});
const isLeader = () => elector.isLeader();
const workloadPods = new WorkloadPods(kubeConfig, { replicaSet: (namespace, name) => cache.replicaSet(namespace, name), log: (msg) => log('warn', msg) });

const agentsForActivator = () => config.activatorAddresses?.map((ip) => ({ ip })) ?? watch.agents();
const agentDirectory: AgentDirectory = config.agentUrls
  ? new StaticAgentDirectory(config.agentUrls)
  : { urls: () => watch.agents().map((agent) => `http://${agent.ip}:${config.agentPort}`) };
const routing = new ActivatorRouting(kubeConfig, agentsForActivator, config.activatorPorts, (msg) => log('warn', msg));
const token = new TokenFile(config.tokenFile);

const viewOf = (workload: Workload): WorkloadView => {
  const deployment = workload.deployment;
  const namespace = deployment.metadata?.namespace ?? '';
  const name = deployment.metadata?.name ?? '';
  return {
    key: workload.key,
    namespace,
    name,
    uid: deployment.metadata?.uid,
    settings: workload.settings.scaling,
    replicas: deployment.spec?.replicas ?? 1,
    readyReplicas: deployment.status?.readyReplicas ?? 0,
    hpa: watch.autoscalerFor(namespace, name),
    unobservedTraffic: unobservedTraffic({
      template: deployment.spec?.template,
      traffic: workload.settings.traffic,
      listenPort: cache.policy().sidecar.listenPort,
      dryRun: cache.policy().dryRun,
      services: watch.servicesFor(namespace, deployment.spec?.template.metadata?.labels),
    }),
    surge: disruptions.surgeFor(workload.key),
  };
};
const deploymentOf = new Map<string, V1Deployment>();
// Status writes come in bursts (every workload's first decision; the refresh a minute later). They
// run behind the tick, a few at a time: a thousand at once opened a thousand connections (the
// RSS doubled) and held the tick, and with it every workload's next decision, for seconds. At most
// one write per workload is pending; a newer text waits for the next tick.
const statusWrites = concurrencyLimit(16);
const statusPending = new Set<string>();

const sizing = new SizingLoop({
  isLeader,
  collect: () => collectUsage(agentDirectory, () => token.read()),
  workloads: () => workloads.list(),
  exists: (key) => workloads.exists(key),
  config: () => cache.policy().sizing,
  store: new CheckpointStore(kubeConfig, config.namespace),
  checkpointIntervalMs: config.checkpointIntervalMs,
  metrics,
  event: (workload, type, reason, message) => events.record(deploymentTarget(workload.deployment), type, reason, message),
  log,
});

// The only part of ebb that evicts; the repair (and the in-place resizer) offer it pods.
const core = kubeConfig.makeApiClient(CoreV1Api);
const disruptions = new DisruptionManager({
  isLeader,
  policy: () => cache.policy().eviction,
  workload: (key) => {
    const workload = workloads.find(key);
    if (!workload) return undefined;
    const [namespace, name] = key.split('/') as [string, string];
    return {
      replicas: workload.deployment.spec?.replicas ?? 1,
      maxReplicas: workload.settings.scaling.maxReplicas,
      paused: workload.settings.scaling.paused,
      hpa: watch.autoscalerFor(namespace, name),
      pods: workloadPods.podsOf(key),
    };
  },
  evict: (pod) => evictPod(core, pod),
  event: (key, type, reason, message) => {
    const deployment = workloads.find(key)?.deployment;
    return deployment ? events.record(deploymentTarget(deployment), type, reason, message) : Promise.resolve();
  },
  metrics,
  log,
});
const repair = new Repair({ isLeader, workloads: () => workloads.list(), podsOf: (key) => workloadPods.podsOf(key), disruptions, log });
const podResizer = new PodResizer(kubeConfig);
const resizer = new Resizer({
  isLeader,
  workloads: () => workloads.list(),
  podsOf: (key) => workloadPods.podsOf(key),
  recommendation: (key) => sizing.statusRecommendation(key),
  autoscaler: (namespace, name) => watch.autoscalerMetricsFor(namespace, name),
  policy: () => {
    const policy = cache.policy();
    return { tolerance: policy.sizing.tolerance, deferredTimeoutMs: policy.resize.deferredTimeoutMs, dryRun: policy.dryRun };
  },
  allowsMemoryLimitDecrease: () => podResizer.allowsMemoryLimitDecrease(),
  resize: (pod, containers) => podResizer.resize(pod, containers),
  disruptions,
  metrics,
  event: (target, type, reason, message) => events.record(target, type, reason, message),
  log,
});

const scaler = new Scaler({
  isLeader,
  target: {
    read: (namespace, name) => readScale(apps, namespace, name),
    write: async (namespace, name, replicas, resourceVersion) => {
      const result = await writeScale(apps, namespace, name, replicas, resourceVersion);
      metrics.scaleWrites.inc({ outcome: result.outcome });
      return result.outcome;
    },
  },
  effects: {
    event: (workload, type, reason, message) => {
      log(type === 'Warning' ? 'warn' : 'info', message, { workload: workload.key, reason });
      return events.record({ kind: 'Deployment', apiVersion: 'apps/v1', namespace: workload.namespace, name: workload.name, uid: workload.uid }, type, reason, message);
    },
    status: (workload, decision, lastRequestAt) => {
      if (statusPending.has(workload.key)) return Promise.resolve();
      const now = Date.now();
      const current = deploymentOf.get(workload.key)?.metadata?.annotations?.[STATUS_ANNOTATION];
      const fields = {
        ...statusFields(decision, lastRequestAt, now, sizing.statusRecommendation(workload.key)),
        traffic: trafficStatus(workload.unobservedTraffic),
        pending: [...resizer.pendingFor(workload.key), ...disruptions.pendingFor(workload.key)],
      };
      const text = nextStatus(current, fields, now, cache.policy().sizing.tolerance);
      if (text === undefined) return Promise.resolve();
      statusPending.add(workload.key);
      void statusWrites(() =>
        apps.patchNamespacedDeployment(
          { name: workload.name, namespace: workload.namespace, body: { metadata: { annotations: { [STATUS_ANNOTATION]: text } } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      )
        .catch(report(`status of ${workload.key}`))
        .finally(() => statusPending.delete(workload.key));
      return Promise.resolve();
    },
    routeToActivator: (workload, asleep) => {
      const labels = deploymentOf.get(workload.key)?.spec?.template.metadata?.labels;
      return routing.route({ key: workload.key, namespace: workload.namespace, services: watch.servicesFor(workload.namespace, labels) }, asleep);
    },
    decided: (workload, decision) => {
      metrics.decisions.inc({ reason: decision.reason.code });
      metrics.actualReplicas.set({ namespace: workload.namespace, deployment: workload.name }, workload.replicas);
      if (decision.desiredReplicas !== null) metrics.desiredReplicas.set({ namespace: workload.namespace, deployment: workload.name }, decision.desiredReplicas);
    },
  },
});

async function tick(): Promise<void> {
  const stopTimer = metrics.tickDuration.startTimer();
  try {
    const current = workloads.list();
    deploymentOf.clear();
    for (const workload of current) deploymentOf.set(workload.key, workload.deployment);
    if (!isLeader()) return;
    const collected = await collectActivity(agentDirectory, () => token.read());
    for (const failure of collected.failures) {
      metrics.agentScrapeFailures.inc({ agent: failure.url, report: 'activity' });
      log('warn', `agent ${failure.url}: ${failure.error}`);
    }
    const now = Date.now();
    await scaler.tick(current.map(viewOf), mergeReports(collected.reports, now), now);
  } catch (error) {
    report('tick')(error);
  } finally {
    metrics.lastTickDuration.set(stopTimer());
  }
}

async function keepCaBundle(): Promise<void> {
  if (!isLeader() || !existsSync(config.webhookCaFile)) return;
  try {
    const result = await ensureWebhookCaBundle(kubeConfig, config.webhookConfiguration, readFileSync(config.webhookCaFile, 'utf8'));
    if (result === 'updated') log('info', `caBundle of MutatingWebhookConfiguration ${config.webhookConfiguration} set to the current CA`);
  } catch (error) {
    report(`caBundle of MutatingWebhookConfiguration ${config.webhookConfiguration}`)(error);
  }
}

let ready = false;
const server = createControllerServer({
  agentIdentity: serviceAccountIdentity(config.namespace, AGENT_ACCOUNT),
  verifier: new CachingTokenVerifier(new TokenReviewVerifier(kubeConfig.makeApiClient(AuthenticationV1Api))),
  metrics,
  ready: () => ready,
  wake: async (request) => {
    const key = parseWorkloadKey(request.workload);
    const workload = key && workloads.find(key);
    if (!workload) return { accepted: false, reason: `${request.workload} is not an opted-in Deployment`, status: 404 };
    deploymentOf.set(workload.key, workload.deployment);
    log('info', `wake-up for ${workload.key} from ${request.node} (${request.held} held)`);
    return scaler.wake(viewOf(workload), Date.now());
  },
});
await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
const address = server.address();
log('info', 'controller listening', { identity: config.identity, host: config.host, port: typeof address === 'object' && address ? address.port : config.port });

await Promise.all([cache.start(), watch.start(), routing.load(), workloadPods.start()]);
ready = true;
elector.start();
const ticker = setInterval(() => void tick(), config.tickMs);
// A round can outlast its interval (a slow agent, many checkpoint writes): never two at once.
let sizingRound: Promise<void> | undefined;
const sizingTicker = setInterval(() => {
  sizingRound ??= sizing.round(Date.now())
    .catch(report('sizing'))
    // The sources offer what they want replaced, then the manager decides what goes now.
    .then(async () => {
      await resizer.round(Date.now());
      repair.round(Date.now());
      return disruptions.run();
    })
    .catch(report('disruptions'))
    .finally(() => (sizingRound = undefined));
}, config.usageIntervalMs);
const caTicker = setInterval(() => void keepCaBundle(), 60_000);

async function shutdown(signal: string) {
  log('info', `${signal}: stopping`);
  clearInterval(ticker);
  clearInterval(sizingTicker);
  clearInterval(caTicker);
  disruptions.stop();
  server.close();
  await elector.stop();
  await Promise.all([cache.stop(), watch.stop(), workloadPods.stop()]);
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
