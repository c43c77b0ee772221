// Controller benchmark at cluster scale, against a real control plane: 1,000 opted-in Deployments
// with 10 replicas each (10,000 pods, created by the real ReplicaSet controller, bound by the real
// scheduler to 20 KWOK nodes and run by KWOK), and the controller (src/controller/main.ts) as a
// real child process with its real informers, decisions and scale writes, run from an esbuild
// bundle as the image runs it (through tsx its RSS is ~110 MB higher: the loader and TypeScript).
// The one stand-in is the agents: an HTTP server in this process answers GET /activity with a
// valid ActivityReport for every workload (10 pods each, 10 per pod in flight against the default
// target of 10, so every workload holds at 10 replicas), and GET /usage with a UsageReport of every
// pod's two containers (a new kubelet sample every 10 s, as the agents scrape), checking the
// controller's bearer token. So the recommender, its status writes and its checkpoints run too.
// Measured:
//   - time per tick: the controller's ebb_controller_tick_duration_seconds histogram (mean over the
//     steady window) and its last-tick gauge polled every 500 ms (each tick once: p50/p99/max,
//     over the steady window and the reaction trials);
//   - the controller's RSS (VmRSS every 500 ms, peak; VmHWM at the end);
//   - reaction: at T one workload's in-flight rises from 100 to 150 in the agent's report; a watch on
//     that Deployment sees spec.replicas change; reaction = event time − T. Repeated on different
//     workloads, each at a random phase of the tick.
// Targets: tick ≤ 100 ms, RSS ≤ 300 MB with usage collection and the recommender on, reaction ≤ 2 s.
// Run: node --import tsx test/bench/controller.ts   (the control-plane binaries must be built)
// Smaller runs: BENCH_WORKLOADS, BENCH_REPLICAS, BENCH_NODES, BENCH_STEADY_MS.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AppsV1Api, CoreV1Api, Watch, type V1Deployment } from '@kubernetes/client-node';
import { INJECTION_LABEL } from '../../src/core/annotations.ts';
import { ACTIVITY_PATH, type ActivityReport, type WorkloadActivity } from '../../src/protocol/activity.ts';
import { USAGE_PATH, type PodUsage, type UsageReport } from '../../src/protocol/usage.ts';
import { workloadKey, type WorkloadKey } from '../../src/protocol/workload.ts';
import { eventually, startControlPlane, type ControlPlane } from '../fixtures/control-plane.ts';
import { controllerEnvironment } from '../fixtures/controller.ts';
import { CONTROLLER_TOKEN } from '../fixtures/processes.ts';
import { loadAverage, percentile, rssMB, sleep, writeResult } from './bench-support.ts';

const setting = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const WORKLOADS = setting('BENCH_WORKLOADS', 1000);
const REPLICAS = setting('BENCH_REPLICAS', 10);
const NODES = setting('BENCH_NODES', 20);
/** How long ticks are measured once the controller has settled. */
const STEADY_MS = setting('BENCH_STEADY_MS', 90_000);
const NAMESPACES = Math.max(1, Math.ceil(WORKLOADS / 100));
const TICK_MS = 2000;
/** How often the stand-in kubelets have a new sample (the agents' default scrape interval). */
const USAGE_SAMPLE_MS = 10_000;
const REACTION_TRIALS = 5;
/** The default target concurrency: 10 per pod keeps a workload at REPLICAS. */
const PER_POD_IN_FLIGHT = 10;
const RAISED_PER_POD_IN_FLIGHT = 15;
/** Deployments created at once. */
const CREATE_CONCURRENCY = 16;
/** The pods may take this long to run; past it the bench goes on with what runs, and says so. */
const PODS_DEADLINE_MS = 360_000;
const TARGETS = { tickMs: 100, rssMB: 300, reactionMs: 2000 };

const namespaceOf = (index: number) => `bench-${index % NAMESPACES}`;
const nameOf = (index: number) => `app-${index}`;
const keyOf = (index: number) => workloadKey(namespaceOf(index), nameOf(index));

/** The stand-in for every agent: one report covering every workload, built per request. */
class FakeAgent {
  readonly perPodInFlight = new Map<WorkloadKey, number>();
  requests = 0;
  usageRequests = 0;
  private readonly server = http.createServer((req, res) => this.answer(req, res));

  constructor(private readonly workloads: readonly WorkloadKey[]) {
    for (const key of workloads) this.perPodInFlight.set(key, PER_POD_IN_FLIGHT);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.url !== ACTIVITY_PATH && req.url !== USAGE_PATH) return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${CONTROLLER_TOKEN}`) return void res.writeHead(401).end('unauthenticated');
    if (req.url === USAGE_PATH) this.usageRequests++;
    else this.requests++;
    const body = JSON.stringify(req.url === USAGE_PATH ? this.usage(Date.now()) : this.report(Date.now()));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  }

  /** The kubelet's newest sample of every pod: taken on the last 10-s boundary, varying a little with each. */
  private usage(now: number): UsageReport {
    const at = Math.floor(now / USAGE_SAMPLE_MS) * USAGE_SAMPLE_MS;
    const wobble = 1 + 0.2 * Math.sin(at / 600_000);
    const pods = this.workloads.flatMap((workload): PodUsage[] => {
      const [namespace, name] = workload.split('/');
      return Array.from({ length: REPLICAS }, (_, i) => ({
        pod: `${namespace}/${name}-${i}`,
        workload,
        containers: [
          { container: 'app', cpuCores: 0.25 * wobble, memoryBytes: Math.round(200 * 2 ** 20 * wobble), at },
          { container: 'ebb-interceptor', cpuCores: 0.01 * wobble, memoryBytes: 40 * 2 ** 20, at },
        ],
      }));
    });
    return { node: 'kwok-node-0', generatedAt: now, scrapedAt: at, stale: false, pods, ooms: [] };
  }

  private report(now: number): ActivityReport {
    const workloads = this.workloads.map((workload): WorkloadActivity => {
      const perPod = this.perPodInFlight.get(workload) ?? 0;
      const [namespace, name] = workload.split('/');
      return {
        workload,
        inFlight: perPod * REPLICAS,
        meanInFlight: perPod * REPLICAS,
        requestRate: perPod * REPLICAS * 20,
        lastRequestAt: now - 10,
        held: 0,
        stalePods: 0,
        pods: Array.from({ length: REPLICAS }, (_, i) => ({ pod: `${namespace}/${name}-${i}`, inFlight: perPod, stale: false, scrapedAt: now - 500 })),
      };
    });
    return { node: 'kwok-node-0', generatedAt: now, windowMs: 10_000, workloads };
  }
}

async function mapConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

function deployment(index: number): V1Deployment {
  const labels = { app: nameOf(index) };
  return {
    // Room above the default ceiling (10) for the reaction trials' scale-ups.
    metadata: { name: nameOf(index), namespace: namespaceOf(index), annotations: { 'ebb.dev/max-replicas': String(REPLICAS * 2) } },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'app:1', ports: [{ name: 'http', containerPort: 8080 }] }], terminationGracePeriodSeconds: 0 } },
    },
  };
}

interface PodProgress {
  createdMs: number;
  runningMs: number;
  readyReplicas: number;
}

/** Creates the Deployments and waits until their pods run (or the deadline passes). */
async function createWorkloads(controlPlane: ControlPlane): Promise<PodProgress> {
  const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const apps = controlPlane.kubeConfig.makeApiClient(AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: 'ebb-system' } } });
  for (let i = 0; i < NAMESPACES; i++) {
    await core.createNamespace({ body: { metadata: { name: namespaceOf(i), labels: { [INJECTION_LABEL]: 'enabled' } } } });
  }
  // No pod is admitted before its namespace has the default service account.
  await eventually('default service accounts', async () => {
    const accounts = await core.listServiceAccountForAllNamespaces({ fieldSelector: 'metadata.name=default' });
    return accounts.items.filter((account) => account.metadata?.namespace?.startsWith('bench-')).length === NAMESPACES ? true : undefined;
  });

  const started = Date.now();
  const indexes = Array.from({ length: WORKLOADS }, (_, i) => i);
  await mapConcurrently(indexes, CREATE_CONCURRENCY, async (i) => {
    await apps.createNamespacedDeployment({ namespace: namespaceOf(i), body: deployment(i) });
  });
  const createdMs = Date.now() - started;
  console.log(`${WORKLOADS} Deployments created in ${(createdMs / 1000).toFixed(1)} s; waiting for ${WORKLOADS * REPLICAS} pods to run`);

  const want = WORKLOADS * REPLICAS;
  let readyReplicas = 0;
  let lastReport = Date.now();
  while (Date.now() - started < PODS_DEADLINE_MS) {
    const list = await apps.listDeploymentForAllNamespaces();
    readyReplicas = list.items.reduce((sum, d) => sum + (d.status?.readyReplicas ?? 0), 0);
    if (readyReplicas >= want) break;
    if (Date.now() - lastReport >= 15_000) {
      lastReport = Date.now();
      console.log(`  ${readyReplicas}/${want} pods ready after ${((Date.now() - started) / 1000).toFixed(0)} s (load ${loadAverage()})`);
    }
    await sleep(2000);
  }
  const runningMs = Date.now() - started;
  console.log(`${readyReplicas}/${want} pods ready after ${(runningMs / 1000).toFixed(1)} s`);
  return { createdMs, runningMs, readyReplicas };
}

/**
 * The controller as it ships (Dockerfile): bundled by esbuild and run by plain node, so its RSS has
 * no TypeScript loader in it; the environment is the integration fixture's (test/fixtures/controller.ts).
 */
async function startBundledController(controlPlane: ControlPlane, env: Record<string, string>): Promise<{ child: ChildProcess; port: number; output: string[] }> {
  const bundle = join('node_modules', '.cache', 'ebb-bench', 'controller.mjs');
  execFileSync('node_modules/.bin/esbuild', [
    'src/controller/main.ts', '--bundle', '--platform=node', '--target=node20', '--format=esm', `--outfile=${bundle}`, '--log-level=warning',
    "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  ]);
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the controller, written when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, bundle], {
    env: { ...process.env, NODE_ENV: 'production', ...controllerEnvironment(controlPlane, 'bench-controller', CONTROLLER_TOKEN), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Like the control plane's components, it does not outlive this process.
  const killNow = () => child.kill('SIGKILL');
  process.once('exit', killNow);
  child.once('exit', () => process.off('exit', killNow));
  const output: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the controller exited with ${code}:\n${output.join('\n')}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      if (line.includes('"controller listening"')) resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return { child, port, output };
}

/** SIGTERM (the controller exits cleanly, writing a CPU profile if asked), SIGKILL after 5 s. */
async function stopController(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Samples from the controller's /metrics text. */
async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}
/** How many series of a metric the text holds, e.g. `ebb_recommendation_target{`. */
const metricCount = (text: string, prefix: string) => text.split('\n').filter((line) => line.startsWith(prefix)).length;
/** One series' value, named with its labels as printed. */
const seriesValue = (text: string, series: string) => Number(text.split('\n').find((line) => line.startsWith(`${series} `))?.slice(series.length + 1) ?? NaN);
const metricValue = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

interface TickHistogram {
  count: number;
  sum: number;
}
const tickHistogram = (text: string): TickHistogram => ({
  count: metricValue(text, 'ebb_controller_tick_duration_seconds_count'),
  sum: metricValue(text, 'ebb_controller_tick_duration_seconds_sum'),
});

/**
 * Polls the controller every 500 ms (a quarter of a tick, so each tick is seen once, and half the
 * cost of rendering its /metrics at 250 ms): each tick's duration and the RSS.
 */
class ControllerSampler {
  readonly ticksMs: number[] = [];
  peakRssMB = 0;
  private lastCount = NaN;
  private recording = false;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly pid: number, private readonly port: number) {
    this.loop = this.run();
  }

  /** Tick durations are kept from now on; the RSS peak covers the whole run. */
  record(): void {
    this.recording = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.peakRssMB = Math.max(this.peakRssMB, rssMB(this.pid).rss);
      const text = await scrape(this.port).catch(() => '');
      const count = metricValue(text, 'ebb_controller_tick_duration_seconds_count');
      // Exactly one tick since the last poll: the gauge is that tick's duration.
      if (this.recording && count === this.lastCount + 1) this.ticksMs.push(metricValue(text, 'ebb_controller_last_tick_duration_seconds') * 1000);
      this.lastCount = count;
      await sleep(500);
    }
  }
}

/** Raises one workload's load at a random phase of the tick; resolves with the time to the scale write. */
async function reactionMs(controlPlane: ControlPlane, agent: FakeAgent, index: number): Promise<number> {
  const namespace = namespaceOf(index);
  const name = nameOf(index);
  let changedAt = 0;
  let resolveReplicas: (replicas: number) => void = () => undefined;
  const scaled = new Promise<number>((resolve) => (resolveReplicas = resolve));
  const watch = await new Watch(controlPlane.kubeConfig).watch(
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    { fieldSelector: `metadata.name=${name}` },
    (_type, object: V1Deployment) => {
      const replicas = object.spec?.replicas ?? 0;
      if (changedAt > 0 && replicas !== REPLICAS) resolveReplicas(Date.now() - changedAt);
    },
    () => undefined,
  );
  try {
    await sleep(Math.random() * TICK_MS);
    changedAt = Date.now();
    agent.perPodInFlight.set(keyOf(index), RAISED_PER_POD_IN_FLIGHT);
    return await Promise.race([scaled, sleep(15_000).then(() => NaN)]);
  } finally {
    watch.abort();
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);
const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const totalPods = WORKLOADS * REPLICAS;
  // Head-room for the scale-ups of the reaction trials.
  const maxPodsPerNode = Math.max(110, Math.ceil((totalPods * 1.1) / NODES));
  console.log(`control plane: ${NODES} KWOK nodes × ${maxPodsPerNode} pods; ${WORKLOADS} Deployments × ${REPLICAS} replicas in ${NAMESPACES} namespaces (load ${loadAverage()})`);
  const benchStarted = Date.now();
  const clientRate = ['--kube-api-qps=400', '--kube-api-burst=800'];
  const controlPlane = await startControlPlane({
    nodes: NODES,
    maxPodsPerNode,
    readyTimeoutMs: 120_000,
    controllerManagerArgs: [
      ...clientRate,
      '--concurrent-replicaset-syncs=10',
      '--concurrent-deployment-syncs=10',
      // KWOK, busy starting thousands of pods on 2 cores, renews the nodes' heartbeats late; after the
      // default 50 s the node lifecycle controller would mark every pod unready, and KWOK never
      // marks a Running pod ready again.
      '--node-monitor-grace-period=10m',
    ],
    schedulerArgs: clientRate,
  });
  const agent = new FakeAgent(Array.from({ length: WORKLOADS }, (_, i) => keyOf(i)));
  let controller: ChildProcess | undefined;
  try {
    const pods = await createWorkloads(controlPlane);
    const agentUrl = await agent.listen();
    const controllerStarted = Date.now();
    const started = await startBundledController(controlPlane, {
      EBB_AGENT_URLS: agentUrl,
      // The API server refuses loopback addresses in EndpointSlices (TEST-NET-1, never reached).
      EBB_ACTIVATOR_ADDRESSES: '192.0.2.10',
      EBB_TICK_MS: String(TICK_MS),
    });
    controller = started.child;
    const { port } = started;
    const sampler = new ControllerSampler(controller.pid!, port);
    await eventually('the controller leads', async () => (metricValue(await scrape(port), 'ebb_controller_leader') === 1 ? true : undefined), 60_000);
    const leaderAfterMs = Date.now() - controllerStarted;
    // The first ticks write every workload's status annotation; the steady window starts after
    // them and covers the status refresh a minute later.
    await sleep(3 * TICK_MS);
    const before = tickHistogram(await scrape(port));
    sampler.record();
    console.log(`controller leading; measuring ticks for ${seconds(STEADY_MS)} s`);
    await sleep(STEADY_MS);
    const after = tickHistogram(await scrape(port));

    const reactions: number[] = [];
    for (let trial = 0; trial < REACTION_TRIALS; trial++) {
      const index = Math.floor(((trial + 0.5) * WORKLOADS) / REACTION_TRIALS);
      reactions.push(await reactionMs(controlPlane, agent, index));
      console.log(`  reaction ${trial + 1}: ${keyOf(index)} ${fixed(reactions.at(-1)!, 0)} ms`);
    }
    await sampler.stop();
    const finalText = await scrape(port);
    const rss = rssMB(controller.pid!);
    // No series until the first write.
    const scaleWrites = metricValue(finalText, 'ebb_scale_writes_total') || 0;
    const warnings = started.output.filter((line) => line.includes('"level":"warn"') || line.includes('"level":"error"'));
    if (warnings.length > 0) console.log(`controller warnings (${warnings.length}, last 5):\n${warnings.slice(-5).join('\n')}`);
    await stopController(controller);

    const ticks = [...sampler.ticksMs].sort((a, b) => a - b);
    const sortedReactions = reactions.filter(Number.isFinite).sort((a, b) => a - b);
    const steadyTicks = after.count - before.count;
    const figures = {
      workloads: WORKLOADS,
      pods: totalPods,
      pods_ready: pods.readyReplicas,
      nodes: NODES,
      deployments_created_s: pods.createdMs / 1000,
      pods_running_s: pods.runningMs / 1000,
      leader_after_s: leaderAfterMs / 1000,
      ticks: steadyTicks,
      tick_mean_ms: ((after.sum - before.sum) / steadyTicks) * 1000,
      tick_p50_ms: percentile(ticks, 50),
      tick_p99_ms: percentile(ticks, 99),
      tick_max_ms: ticks.at(-1) ?? NaN,
      ticks_sampled: ticks.length,
      rss_peak_mb: Math.max(sampler.peakRssMB, rss.rss),
      rss_hwm_mb: rss.peak,
      reaction_p50_ms: percentile(sortedReactions, 50),
      reaction_max_ms: sortedReactions.at(-1) ?? NaN,
      reactions_seen: sortedReactions.length,
      scale_writes: scaleWrites,
      agent_reports: agent.requests,
      usage_reports: agent.usageRequests,
      recommendations: metricCount(finalText, 'ebb_recommendation_target{') / 2,
      checkpoint_writes: seriesValue(finalText, 'ebb_recommender_checkpoint_writes_total{outcome="written"}') || 0,
      bench_s: (Date.now() - benchStarted) / 1000,
      load: loadAverage(),
    };
    const verdict = (value: number, target: number) => (value <= target ? 'ok' : 'MISS');
    console.log(`
| measure                               | value                | target   |      |
|---------------------------------------|----------------------|----------|------|
| pods ready / wanted                   | ${`${pods.readyReplicas} / ${totalPods}`.padEnd(20)} |          |      |
| Deployments created, pods running     | ${`${seconds(pods.createdMs)} s, ${seconds(pods.runningMs)} s`.padEnd(20)} |          |      |
| tick mean (histogram, ${String(steadyTicks).padStart(3)} ticks)     | ${`${fixed(figures.tick_mean_ms)} ms`.padEnd(20)} | ≤ ${TARGETS.tickMs} ms | ${verdict(figures.tick_mean_ms, TARGETS.tickMs)} |
| tick p50 / p99 / max (${String(ticks.length).padStart(3)} sampled)   | ${`${fixed(figures.tick_p50_ms)} / ${fixed(figures.tick_p99_ms)} / ${fixed(figures.tick_max_ms)} ms`.padEnd(20)} | ≤ ${TARGETS.tickMs} ms | ${verdict(figures.tick_p99_ms, TARGETS.tickMs)} |
| controller RSS peak (VmRSS / VmHWM)   | ${`${fixed(figures.rss_peak_mb)} / ${fixed(rss.peak)} MB`.padEnd(20)} | ≤ ${TARGETS.rssMB} MB | ${verdict(figures.rss_peak_mb, TARGETS.rssMB)} |
| reaction p50 / max (${sortedReactions.length}/${REACTION_TRIALS} seen)        | ${`${fixed(figures.reaction_p50_ms, 0)} / ${fixed(figures.reaction_max_ms, 0)} ms`.padEnd(20)} | ≤ ${TARGETS.reactionMs} ms | ${verdict(sortedReactions.length === REACTION_TRIALS ? figures.reaction_max_ms : Infinity, TARGETS.reactionMs)} |
| usage reports, recommendations, checkpoint writes | ${`${figures.usage_reports}, ${figures.recommendations}, ${figures.checkpoint_writes}`.padEnd(20)} |          |      |
load average ${loadAverage()}; the agents are the one stand-in (one report for every workload from this process)
`);
    writeResult('controller', figures);
  } finally {
    await stopController(controller);
    await agent.close();
    await controlPlane.stop();
  }
}

await main();
