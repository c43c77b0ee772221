// The per-node agent: scrapes the node's interceptors and serves their activity to the
// controller; runs the activator for Services at zero. See node/config.ts for the settings.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { AuthenticationV1Api, KubeConfig } from '@kubernetes/client-node';
import { CachingTokenVerifier, StaticTokenVerifier, TokenReviewVerifier, type TokenVerifier } from '../src/protocol/auth.ts';
import { servicesRouted, targetKey } from '../src/core/activity/route.ts';
import { Activator } from './node/activator/activator.ts';
import { StaticDirectory, type WorkloadDirectory } from './node/activator/directory.ts';
import { KubeDirectory } from './node/activator/kube-directory.ts';
import { ActivatorListeners } from './node/activator/listeners.ts';
import { wakeClient } from './node/activator/wake-client.ts';
import { createActivityServer } from './node/activity-server.ts';
import { agentConfigFromEnv } from './node/config.ts';
import { KubePodDiscovery, StaticDiscovery, type TargetDiscovery } from './node/discovery.ts';
import { AgentMetrics } from './node/metrics.ts';
import { RiseFeed } from './node/rise-feed.ts';
import { Scraper } from './node/scraper.ts';
import { TokenFile } from '../src/protocol/token-file.ts';
import { systemClock } from './node/clock.ts';
import { kubeletMetricsReader } from './node/kubelet/resource-metrics-client.ts';
import { UsageCollector, usageUnavailable } from './node/usage-collector.ts';
import { createLog, startupOrExit } from '../src/program/log.ts';

const log = createLog('agent');
const config = startupOrExit(log, () => agentConfigFromEnv(process.env));

let kubeConfig: KubeConfig | undefined;
const cluster = (): KubeConfig => {
  if (!kubeConfig) {
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
  }
  return kubeConfig;
};

const podDiscovery = config.staticTargets === undefined ? new KubePodDiscovery(cluster(), config.nodeName, log) : undefined;
const discovery: TargetDiscovery = podDiscovery ?? new StaticDiscovery((config.staticTargets ?? '').split(',').filter(Boolean));
const directory: WorkloadDirectory =
  config.staticBackends !== undefined ? new StaticDirectory(StaticDirectory.parse(config.staticBackends)) : new KubeDirectory(cluster(), log);
const verifier: TokenVerifier = new CachingTokenVerifier(
  config.staticTokens !== undefined
    ? StaticTokenVerifier.parse(config.staticTokens)
    : new TokenReviewVerifier(cluster().makeApiClient(AuthenticationV1Api), config.audience),
);

// The gauges are read when /metrics is scraped, by then the activator exists.
const metrics = new AgentMetrics({
  heldByWorkload: () => activator.heldByWorkload(),
  targets: () => discovery.targets().length,
  sleepingServices: () => servicesRouted(directory.routes()),
});
const rises = new RiseFeed(config.nodeName);
const scraper = new Scraper(discovery, {
  intervalMs: config.scrapeIntervalMs,
  timeoutMs: config.scrapeTimeoutMs,
  windowMs: config.windowMs,
  onScrapeFailure: metrics.scrapeFailed,
  // Each round is compared with what the controller last read: a rise is told at once.
  onRound: () => rises.observe(scraper.report(config.nodeName, activator.heldByWorkload()).workloads),
});
const activator: Activator = new Activator({
  directory,
  wake: config.controllerUrl ? wakeClient(config.controllerUrl, new TokenFile(config.tokenFile)) : undefined,
  node: config.nodeName,
  limits: config.hold,
  log,
  onWakeOutcome: metrics.wakeRequested,
});

const listeners = new ActivatorListeners(activator, config.activatorHost, log, config.activatorTimeouts);
directory.onRoutesChanged(() => void listeners.apply(directory.routes()));

// The kubelet's figures need the Node and the pods from the API server: none in static mode.
const usage =
  podDiscovery &&
  new UsageCollector(
    { pods: () => podDiscovery.pods(), scrape: kubeletMetricsReader(cluster(), config.nodeName, config.kubelet) },
    { node: config.nodeName, intervalMs: config.kubelet.intervalMs, clock: systemClock, onScrapeFailure: metrics.kubeletScrapeFailed, log },
  );
if (config.kubelet.insecureTls) log('warn', "EBB_KUBELET_INSECURE_TLS=true: the kubelet's certificate is not verified");

await Promise.all([discovery.start(), directory.start()]);
scraper.start();
usage?.start();
const usageReport = () =>
  usage?.report() ?? usageUnavailable(config.nodeName, 'no kubelet to read: the agent runs with EBB_STATIC_TARGETS, without the API server', Date.now());

const activityServer = createActivityServer({
  activity: () => scraper.report(config.nodeName, activator.heldByWorkload()),
  usage: usageReport,
  rises,
  verifier,
  allowedIdentity: config.allowedIdentity,
  metrics: metrics.registry,
});
activityServer.listen(config.port, config.listenHost);
await Promise.all([once(activityServer, 'listening'), listeners.apply(directory.routes())]);
const activatorPorts = listeners.listening();
log('info', 'agent listening', {
  node: config.nodeName,
  activity: (activityServer.address() as AddressInfo).port,
  // Per sleeping Service port (or static workload), its activator port; and the first of them,
  // for a test with one static workload.
  activators: Object.fromEntries(activatorPorts.map(({ target, port }) => [targetKey(target), port])),
  activator: activatorPorts[0]?.port,
  discovery: config.staticTargets !== undefined ? 'static' : 'pods',
  directory: config.staticBackends !== undefined ? 'static' : 'pods',
});

// Nothing held is lost: the activator stops accepting, answers what it holds (forwarded if a
// backend becomes ready within the drain, else 503 with Retry-After), then the agent exits.
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  log('info', 'draining', { held: [...activator.heldByWorkload().values()].reduce((sum, n) => sum + n, 0), drainMs: config.drainMs });
  listeners.stopAccepting();
  scraper.stop();
  usage?.stop();
  discovery.stop();
  await activator.drain(config.drainMs);
  directory.stop();
  activator.close();
  rises.close();
  activityServer.close();
  log('info', 'agent stopped');
  setTimeout(() => process.exit(0), 100).unref();
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
