// The controller, assembled: leader election, informer caches, a tick that pulls activity from the
// agents and scales every opted-in Deployment, the right-sizing round, the wake-up API for the
// agents, and the webhook's certificates and caBundle kept current. Built from its configuration
// and the cluster's KubeConfig by one function, which a test can call without a process (main.ts
// only reads the configuration, builds and starts).

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { mergeReports } from '../core/activity/merge-reports.ts';
import type { Decision } from '../core/decider/index.ts';
import { STATUS_ANNOTATION } from '../core/annotations.ts';
import { nextStatus, statusFields, statusRefreshMs } from '../core/status.ts';
import { trafficStatus, unobservedTraffic } from '../core/traffic-visibility.ts';
import { ClusterCache } from '../kube/cluster-cache.ts';
import { EventRecorder } from '../kube/events.ts';
import { evictPod } from '../kube/eviction.ts';
import { LeaderElector } from '../kube/leader-election.ts';
import { answeredWithMetadataOnly } from '../kube/metadata-answer.ts';
import { PodResizer } from '../kube/pod-resize.ts';
import { moveReplicas, readReplicas } from '../kube/scale.ts';
import { CheckpointStore } from '../kube/sizing-checkpoints.ts';
import { WorkloadPods } from '../kube/workload-pods.ts';
import type { Log } from '../program/log.ts';
import { AGENT_ACCOUNT, serviceAccountIdentity, type TokenVerifier } from '../protocol/auth.ts';
import { TokenFile } from '../protocol/token-file.ts';
import { parseWorkloadKey } from '../protocol/workload.ts';
import { collectActivity, collectUsage, StaticAgentDirectory, type AgentDirectory } from './agents.ts';
import { ClusterWatch } from './cluster-watch.ts';
import type { ControllerConfig } from './config.ts';
import { DisruptionManager } from './disruptions.ts';
import { ControllerMetrics } from './metrics.ts';
import { Repair } from './repair.ts';
import { Resizer } from './resizer.ts';
import { ActivatorRouting } from './routing.ts';
import { AgentRises } from './rises.ts';
import { Scaler, type ScalerEffects, type WorkloadView } from './scaler.ts';
import { createControllerServer } from './server.ts';
import { SizingLoop } from './sizing.ts';
import { StatusChecks, StatusWrites } from './status-writes.ts';
import { TickGate, TimeSlices } from './time-slices.ts';
import { CertificateKeeper, certificateRound } from './webhook-certificates.ts';
import { WorkloadSource, type Workload } from './workloads.ts';

/** Status writes at once (status-writes.ts). */
const STATUS_WRITE_CONCURRENCY = 16;
/** Status writes waiting or running at most (status-writes.ts). */
const STATUS_WRITES_PENDING_MAX = 128;

export interface ControllerDependencies {
  /** The API server, for every cache, write and watch. */
  kubeConfig: KubeConfig;
  /** Checks the tokens of the agents that ask for wake-ups. */
  verifier: TokenVerifier;
  log: Log;
}

export interface Controller {
  readonly server: http.Server;
  readonly metrics: ControllerMetrics;
  /** Listens, syncs the caches, then campaigns for the lease and runs the loops; resolves with the port. */
  start(): Promise<number>;
  /** One horizontal round: decide every workload from the agents' activity (the leader only). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

const deploymentTarget = (deployment: V1Deployment) => ({
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  namespace: deployment.metadata?.namespace ?? '',
  name: deployment.metadata?.name ?? '',
  uid: deployment.metadata?.uid,
});

/** The two lists as one; the first itself when the second is empty (nearly always: asked for every workload every tick). */
const bothLists = <T>(first: T[], second: T[]): T[] => (second.length === 0 ? first : [...first, ...second]);

export function buildController(config: ControllerConfig, { kubeConfig, verifier, log }: ControllerDependencies): Controller {
  const report = (what: string) => (error: unknown) => log('warn', `${what}: ${error instanceof Error ? error.message : String(error)}`);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const metrics = new ControllerMetrics();
  const events = new EventRecorder(kubeConfig, 'ebb-controller');
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
      void certificates.kick();
      // A new leader decides at once, and asks the agents to tell it of rises from now on.
      tickGate.early(decideEveryWorkload);
    },
    onStoppedLeading: () => metrics.leader.set(0),
    log: (msg) => log('info', msg),
  });
  const isLeader = () => elector.isLeader();
  const certificates = new CertificateKeeper(certificateRound(kubeConfig, config.certificates, log), isLeader, report('webhook certificates'));
  const workloadPods = new WorkloadPods(kubeConfig, { replicaSet: (namespace, name) => cache.replicaSet(namespace, name), log: (msg) => log('warn', msg) });

  const { agentDirectory, agentsForActivator } = agentAddresses(config, watch);
  const routing = new ActivatorRouting(kubeConfig, agentsForActivator, config.activatorPorts, (msg) => log('warn', msg));
  const token = new TokenFile(config.tokenFile);

  const viewOf = (workload: Workload): WorkloadView => {
    const deployment = workload.deployment;
    const namespace = deployment.metadata?.namespace ?? '';
    const name = deployment.metadata?.name ?? '';
    const podLabels = deployment.spec?.template.metadata?.labels;
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
        services: watch.servicesFor(namespace, podLabels),
      }),
      surge: disruptions.surgeFor(workload.key),
      status: deployment.metadata?.annotations?.[STATUS_ANNOTATION],
      podLabels,
    };
  };

  // The tick goes first: background rounds and writes wait while it runs (time-slices.ts).
  const tickGate = new TickGate({ periodMs: config.tickMs });
  const { sizing, disruptions, repair, resizer } = buildRightSizing({
    tickGate,
    config,
    kubeConfig,
    cache,
    watch,
    workloads,
    workloadPods,
    events,
    metrics,
    isLeader,
    agentDirectory,
    token,
    log,
  });

  const status = statusUpdates({ tickGate, apps, cache, sizing, resizer, disruptions, report });
  const effects: ScalerEffects = {
    event: (workload, type, reason, message) => {
      log(type === 'Warning' ? 'warn' : 'info', message, { workload: workload.key, reason });
      // Written once the tick is over, and never waited for: the recorder sends a few at a time, in
      // order, so a Scaled Event could queue behind a burst (every workload's first recommendation)
      // and hold the tick, and every decision after it, for seconds.
      const target = { kind: 'Deployment', apiVersion: 'apps/v1', namespace: workload.namespace, name: workload.name, uid: workload.uid };
      void tickGate.after(() => events.record(target, type, reason, message)).catch(report('event'));
    },
    status,
    routeToActivator: (workload, asleep) =>
      routing.route({ key: workload.key, namespace: workload.namespace, services: () => watch.servicesFor(workload.namespace, workload.podLabels) }, asleep),
    decided: (workload, decision) => metrics.tickDecisions.decided(workload, decision),
  };
  const scaler = new Scaler({
    isLeader,
    target: {
      read: (namespace, name) => readReplicas(apps, namespace, name),
      move: async (namespace, name, change) => {
        const outcome = await moveReplicas(apps, namespace, name, change);
        metrics.scaleWrites.inc({ outcome });
        return outcome;
      },
    },
    effects,
    tuning: config.tuning,
  });

  const tick = () => tickGate.run(decideEveryWorkload);
  // A burst seen by an agent between two ticks is decided on at once (rises.ts).
  const rises = new AgentRises({
    token: () => token.read(),
    onRise: () => (metrics.loadRises.inc(), tickGate.early(decideEveryWorkload)),
    onFailure: (url, error) => log('warn', `agent ${url}: ${error}`),
  });
  async function decideEveryWorkload(): Promise<void> {
    const stopTimer = metrics.tickDuration.startTimer();
    try {
      const current = workloads.list();
      rises.follow(isLeader() ? agentDirectory.urls() : []);
      if (!isLeader()) return;
      const stopAgentsTimer = metrics.lastTickAgentsDuration.startTimer();
      const collected = await collectActivity(agentDirectory, () => token.read());
      stopAgentsTimer();
      for (const failure of collected.failures) {
        metrics.agentScrapeFailures.inc({ agent: failure.url, report: 'activity' });
        log('warn', `agent ${failure.url}: ${failure.error}`);
      }
      const now = Date.now();
      await scaler.tick(current.map(viewOf), mergeReports(collected.reports, now), now);
      metrics.tickDecisions.count();
    } catch (error) {
      report('tick')(error);
    } finally {
      metrics.lastTickDuration.set(stopTimer());
    }
  }

  let ready = false;
  const server = createControllerServer({
    verifier,
    agentIdentity: serviceAccountIdentity(config.namespace, AGENT_ACCOUNT),
    metrics,
    ready: () => ready,
    wake: async (request) => {
      const key = parseWorkloadKey(request.workload);
      const workload = key && workloads.find(key);
      if (!workload) return { accepted: false, refusal: 'unknown-workload', reason: `${request.workload} is not an opted-in Deployment` };
      log('info', `wake-up for ${workload.key} from ${request.node} (${request.held} held)`);
      return scaler.wake(viewOf(workload), Date.now());
    },
  });

  // A round can outlast its interval (a slow agent, many checkpoint writes): never two at once.
  // Each step starts at a slice boundary: what follows an answer from the API or the agents waits
  // for a tick under way instead of running inside it.
  let sizingRound: Promise<void> | undefined;
  const rightSizingRound = async () => {
    await sizing.round(Date.now()).catch(report('sizing'));
    const slices = new TimeSlices(tickGate);
    try {
      // The sources offer what they want replaced, then the manager decides what goes now.
      await slices.next();
      await resizer.round(Date.now());
      await slices.next();
      repair.round(Date.now());
      await disruptions.run();
    } catch (error) {
      report('disruptions')(error);
    }
  };
  const sizingAndDisruptions = () => {
    sizingRound ??= rightSizingRound().finally(() => (sizingRound = undefined));
  };
  const timers: NodeJS.Timeout[] = [];

  return {
    server,
    metrics,
    tick,
    async start() {
      await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
      const port = (server.address() as AddressInfo).port;
      log('info', 'controller listening', { identity: config.identity, host: config.host, port });
      await Promise.all([cache.start(), watch.start(), routing.load(), workloadPods.start()]);
      ready = true;
      elector.start();
      timers.push(
        setInterval(() => void tick(), config.tickMs),
        setInterval(sizingAndDisruptions, config.usageIntervalMs),
      );
      return port;
    },
    async stop() {
      for (const timer of timers) clearInterval(timer);
      rises.stop();
      certificates.stop();
      disruptions.stop();
      server.close();
      await elector.stop();
      await Promise.all([cache.stop(), watch.stop(), workloadPods.stop()]);
    },
  };
}

interface StatusParts {
  tickGate: TickGate;
  apps: AppsV1Api;
  cache: ClusterCache;
  sizing: SizingLoop;
  resizer: Resizer;
  disruptions: DisruptionManager;
  report: (what: string) => (error: unknown) => void;
}

/** The scaler's status effect: each decision's status checked once the tick is over, and written when worth it (status-writes.ts). */
function statusUpdates({ tickGate, apps, cache, sizing, resizer, disruptions, report }: StatusParts): ScalerEffects['status'] {
  const statusFailed = (key: string, error: unknown) => report(`status of ${key}`)(error);
  const statusWrites = new StatusWrites(STATUS_WRITE_CONCURRENCY, statusFailed, tickGate, STATUS_WRITES_PENDING_MAX);
  // Whether the workload's status is worth a write now, and if so the write, once the tick is over.
  const statusChecks = new StatusChecks<{ workload: WorkloadView; decision: Decision; lastRequestAt: number | undefined }>(
    tickGate,
    ({ workload, decision, lastRequestAt }) => {
      if (statusWrites.isPending(workload.key) || !statusWrites.hasRoom()) return;
      const now = Date.now();
      const fields = statusFields(decision, lastRequestAt, now, {
        recommendation: sizing.statusRecommendation(workload.key),
        traffic: trafficStatus(workload.unobservedTraffic),
        pending: bothLists(resizer.pendingFor(workload.key), disruptions.pendingFor(workload.key)),
      });
      const text = nextStatus(workload.status, fields, now, cache.policy().sizing.tolerance, statusRefreshMs(workload.key));
      if (text === undefined) return;
      statusWrites.submit(workload.key, () =>
        apps.patchNamespacedDeployment(
          { name: workload.name, namespace: workload.namespace, body: { metadata: { annotations: { [STATUS_ANNOTATION]: text } } } },
          answeredWithMetadataOnly(setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
        ),
      );
    },
    statusFailed,
  );
  return (workload, decision, lastRequestAt) => statusChecks.submit(workload.key, { workload, decision, lastRequestAt });
}

/** Where the agents are: their API (activity, rises, usage) and the addresses activator slices point at. */
function agentAddresses(config: ControllerConfig, watch: ClusterWatch) {
  const agentDirectory: AgentDirectory = config.agentUrls
    ? new StaticAgentDirectory(config.agentUrls)
    : { urls: () => watch.agents().map((agent) => `http://${agent.ip}:${config.agentPort}`) };
  return { agentDirectory, agentsForActivator: () => config.activatorAddresses?.map((ip) => ({ ip })) ?? watch.agents() };
}

interface RightSizingParts {
  tickGate: TickGate;
  config: ControllerConfig;
  kubeConfig: KubeConfig;
  cache: ClusterCache;
  watch: ClusterWatch;
  workloads: WorkloadSource;
  workloadPods: WorkloadPods;
  events: EventRecorder;
  metrics: ControllerMetrics;
  isLeader: () => boolean;
  agentDirectory: AgentDirectory;
  token: TokenFile;
  log: Log;
}

/** The recommender's loop, the in-place resizer, the repair of pods that missed the webhook, and the one manager of evictions. */
function buildRightSizing(parts: RightSizingParts) {
  const { tickGate, config, kubeConfig, cache, watch, workloads, workloadPods, events, metrics, isLeader, agentDirectory, token, log } = parts;
  const sizing = new SizingLoop({
    tickGate,
    isLeader,
    // Pulled in the first half of a gap between two ticks, so that it is over before the next
    // tick pulls activity from the same agents (bench:controller's 20 stand-in agents answer it for
    // 10,000 pods within 0.04 to 0.12 s).
    collect: async () => {
      await tickGate.quiet(config.tickMs / 2);
      return collectUsage(
        agentDirectory,
        () => token.read(),
        () => tickGate.clear(),
      );
    },
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
  return { sizing, disruptions, repair, resizer };
}
