// Shared by the benchmarks that run the controller at cluster scale (controller.ts, resize.ts): a
// real control plane with KWOK nodes tuned for thousands of pods, Deployments created and waited
// for, the controller bundled as it ships and run as a child process, the one stand-in (an HTTP
// server answering the agents' /activity and /usage for every workload), and a sampler of the
// controller's ticks and RSS from its /metrics and /proc.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { INJECTION_LABEL } from '../../src/core/annotations.ts';
import { ACTIVITY_PATH, type ActivityReport, type WorkloadActivity } from '../../src/protocol/activity.ts';
import { USAGE_PATH, type ContainerUsage, type PodUsage, type UsageReport } from '../../src/protocol/usage.ts';
import { workloadKey, type WorkloadKey } from '../../src/protocol/workload.ts';
import { eventually, startControlPlane, type ControlPlane } from '../fixtures/control-plane.ts';
import { controllerEnvironment } from '../fixtures/controller.ts';
import { CONTROLLER_TOKEN } from '../fixtures/processes.ts';
import { loadAverage, rssMB, sleep } from './bench-support.ts';

export const setting = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

// The cluster both benches build: WORKLOADS Deployments (app-0, app-1, …) of REPLICAS pods each on
// NODES KWOK nodes, a hundred workloads a namespace (bench-0, bench-1, …).
export const WORKLOADS = setting('BENCH_WORKLOADS', 1000);
export const REPLICAS = setting('BENCH_REPLICAS', 10);
export const NODES = setting('BENCH_NODES', 20);
export const NAMESPACES = Math.max(1, Math.ceil(WORKLOADS / 100));
export const namespaceOf = (index: number) => `bench-${index % NAMESPACES}`;
export const nameOf = (index: number) => `app-${index}`;
export const keyOf = (index: number) => workloadKey(namespaceOf(index), nameOf(index));
export const benchNamespaces = () => Array.from({ length: NAMESPACES }, (_, i) => namespaceOf(i));
export const seconds = (ms: number) => (ms / 1000).toFixed(1);
export const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

// The results table both benches print: measure, value, target, and whether the value met it.
export const verdict = (value: number, target: number) => (value <= target ? 'ok' : 'MISS');
export const row = (measure: string, value: string, target = '', mark = '') =>
  `| ${measure.padEnd(52)} | ${value.padEnd(28)} | ${target.padEnd(10)} | ${mark.padEnd(4)} |`;
export const tableHeader = `${row('measure', 'value', 'target')}\n|${'-'.repeat(54)}|${'-'.repeat(30)}|${'-'.repeat(12)}|------|`;

/** How often the stand-in kubelets have a new sample (the agents' default scrape interval). */
const USAGE_SAMPLE_MS = 10_000;
/** Deployments created at once. */
const CREATE_CONCURRENCY = 16;

/**
 * A control plane for thousands of pods on `nodes` KWOK nodes: the controller-manager and the
 * scheduler may call the API server faster than their defaults allow.
 */
export function startBenchControlPlane(nodes: number, maxPodsPerNode: number): Promise<ControlPlane> {
  const clientRate = ['--kube-api-qps=400', '--kube-api-burst=800'];
  return startControlPlane({
    nodes,
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
}

/** What each container of every pod uses at a kubelet sample (the `at` is added per sample). */
export type StandInUsage = Omit<ContainerUsage, 'at'>;

export interface StandInOptions {
  /** Pods per workload, in both reports. */
  replicas: number;
  /** Agents (one per node), each reporting its share of the pods. */
  nodes: number;
  /** Requests in flight per pod, until changed in `perPodInFlight`. */
  perPodInFlight: number;
  /** Every pod's containers at the kubelet sample taken at `at`. */
  usage(at: number): StandInUsage[];
}

/**
 * The stand-in for the agents of a cluster: one HTTP server per node, as the DaemonSet has one agent
 * per node, each reporting the pods placed on its node (a workload's pods spread round robin over
 * the nodes, as the scheduler spreads them here) — so the controller pulls, parses and merges one
 * report per node, as it does in a cluster. Reports are built per request.
 */
export class StandInAgents {
  readonly perPodInFlight = new Map<WorkloadKey, number>();
  activityRequests = 0;
  usageRequests = 0;
  private readonly servers: http.Server[];
  /** Per node, the workloads with pods on it and those pods' names: placed once, read per report. */
  private readonly placements: { workload: WorkloadKey; pods: string[] }[][];

  constructor(
    workloads: readonly WorkloadKey[],
    private readonly options: StandInOptions,
  ) {
    for (const key of workloads) this.perPodInFlight.set(key, options.perPodInFlight);
    this.placements = placePods(workloads, options.replicas, options.nodes);
    this.servers = this.placements.map((_, node) => http.createServer((req, res) => this.answer(node, req, res)));
  }

  /** The agents' URLs, as a comma-separated list (EBB_AGENT_URLS). */
  async listen(): Promise<string> {
    const urls = await Promise.all(
      this.servers.map(async (server) => {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      }),
    );
    return urls.join(',');
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map((server) => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      }),
    );
  }

  private answer(node: number, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.url !== ACTIVITY_PATH && req.url !== USAGE_PATH) return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${CONTROLLER_TOKEN}`) return void res.writeHead(401).end('unauthenticated');
    if (req.url === USAGE_PATH) this.usageRequests++;
    else this.activityRequests++;
    const body = JSON.stringify(req.url === USAGE_PATH ? this.usage(node, Date.now()) : this.report(node, Date.now()));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  }

  /** The kubelet's newest sample of every pod on the node, taken on the last 10-s boundary. */
  private usage(node: number, now: number): UsageReport {
    const at = Math.floor(now / USAGE_SAMPLE_MS) * USAGE_SAMPLE_MS;
    const containers = this.options.usage(at).map((container) => ({ ...container, at }));
    const pods = this.placements[node]!.flatMap(({ workload, pods }): PodUsage[] => pods.map((pod) => ({ pod, workload, containers })));
    return { node: `kwok-node-${node}`, generatedAt: now, scrapedAt: at, stale: false, pods, ooms: [] };
  }

  private report(node: number, now: number): ActivityReport {
    const workloads = this.placements[node]!.map(({ workload, pods }): WorkloadActivity => {
      const perPod = this.perPodInFlight.get(workload) ?? 0;
      return {
        workload,
        inFlight: perPod * pods.length,
        meanInFlight: perPod * pods.length,
        requestRate: perPod * pods.length * 20,
        lastRequestAt: now - 10,
        held: 0,
        stalePods: 0,
        pods: pods.map((pod) => ({ pod, inFlight: perPod, stale: false, scrapedAt: now - 500 })),
      };
    });
    return { node: `kwok-node-${node}`, generatedAt: now, windowMs: 10_000, workloads };
  }
}

/** Pod i of the w-th workload runs on node (w × replicas + i) mod nodes: per node, its workloads and their pods there. */
function placePods(workloads: readonly WorkloadKey[], replicas: number, nodes: number): { workload: WorkloadKey; pods: string[] }[][] {
  const placements = Array.from({ length: nodes }, () => new Map<WorkloadKey, string[]>());
  workloads.forEach((workload, index) => {
    const [namespace = '', name = ''] = workload.split('/');
    for (let i = 0; i < replicas; i++) {
      const onNode = placements[(index * replicas + i) % nodes]!;
      const pods = onNode.get(workload) ?? [];
      pods.push(`${namespace}/${name}-${i}`);
      onNode.set(workload, pods);
    }
  });
  return placements.map((onNode) => [...onNode].map(([workload, pods]) => ({ workload, pods })));
}

export async function mapConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

export interface PodProgress {
  createdMs: number;
  runningMs: number;
  readyReplicas: number;
}

/**
 * Creates ebb's namespace, the `namespaces` (opted in by label) and the Deployments, and waits until
 * `wantedPods` are ready or `deadlineMs` has passed since the first create (the bench then goes on
 * with what runs, and says so).
 */
export async function createWorkloads(
  controlPlane: ControlPlane,
  namespaces: readonly string[],
  deployments: readonly V1Deployment[],
  wantedPods: number,
  deadlineMs: number,
): Promise<PodProgress> {
  const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const apps = controlPlane.kubeConfig.makeApiClient(AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: 'ebb-system' } } });
  for (const name of namespaces) await core.createNamespace({ body: { metadata: { name, labels: { [INJECTION_LABEL]: 'enabled' } } } });
  // No pod is admitted before its namespace has the default service account.
  await eventually('default service accounts', async () => {
    const accounts = await core.listServiceAccountForAllNamespaces({ fieldSelector: 'metadata.name=default' });
    return accounts.items.filter((account) => namespaces.includes(account.metadata?.namespace ?? '')).length === namespaces.length ? true : undefined;
  });

  const started = Date.now();
  await mapConcurrently(deployments, CREATE_CONCURRENCY, async (body) => {
    await apps.createNamespacedDeployment({ namespace: body.metadata?.namespace ?? '', body });
  });
  const createdMs = Date.now() - started;
  console.log(`${deployments.length} Deployments created in ${seconds(createdMs)} s; waiting for ${wantedPods} pods to run`);

  let readyReplicas = 0;
  let lastReport = Date.now();
  while (Date.now() - started < deadlineMs) {
    const list = await apps.listDeploymentForAllNamespaces();
    readyReplicas = list.items.reduce((sum, d) => sum + (d.status?.readyReplicas ?? 0), 0);
    if (readyReplicas >= wantedPods) break;
    if (Date.now() - lastReport >= 15_000) {
      lastReport = Date.now();
      console.log(`  ${readyReplicas}/${wantedPods} pods ready after ${seconds(Date.now() - started)} s (load ${loadAverage()})`);
    }
    await sleep(2000);
  }
  const runningMs = Date.now() - started;
  console.log(`${readyReplicas}/${wantedPods} pods ready after ${seconds(runningMs)} s`);
  return { createdMs, runningMs, readyReplicas };
}

export interface BundledController {
  child: ChildProcess;
  port: number;
  /** Everything it printed: its JSON log lines on stdout, and stderr. */
  output: string[];
}

/**
 * The controller as it ships (Dockerfile): bundled by esbuild and run by plain node, so its RSS has
 * no TypeScript loader in it (through tsx its RSS is ~110 MB higher); the environment is the
 * integration fixture's (test/fixtures/controller.ts), the agents are the stand-in at `agentUrl`.
 */
export async function startBundledController(controlPlane: ControlPlane, agentUrl: string, env: Record<string, string>): Promise<BundledController> {
  const bundle = join('node_modules', '.cache', 'ebb-bench', 'controller.mjs');
  execFileSync('node_modules/.bin/esbuild', [
    'src/controller/main.ts',
    '--bundle',
    '--platform=node',
    '--target=node20',
    '--format=esm',
    `--outfile=${bundle}`,
    '--log-level=warning',
    "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  ]);
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the controller, written when it stops.
  // BENCH_HEAP_SNAPSHOT=<dir>: a heap snapshot of the controller, taken just before it stops.
  const profile = [
    ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    ...(process.env.BENCH_HEAP_SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${process.env.BENCH_HEAP_SNAPSHOT}`] : []),
  ];
  const child = spawn(process.execPath, [...manifestNodeOptions(), ...profile, bundle], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      ...controllerEnvironment(controlPlane, 'bench-controller', CONTROLLER_TOKEN),
      EBB_AGENT_URLS: agentUrl,
      // The API server refuses loopback addresses in EndpointSlices (TEST-NET-1, never reached).
      EBB_ACTIVATOR_ADDRESSES: '192.0.2.10',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Like the control plane's components, it does not outlive this process.
  const killNow = () => child.kill('SIGKILL');
  process.once('exit', killNow);
  child.once('exit', () => process.off('exit', killNow));
  const output: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  // stopController's SIGTERM ends it with code 0; any other exit is a finding: how, and its last words.
  child.once('exit', (code, signal) => {
    if (code !== 0) console.log(`the controller exited (${signal ?? `code ${code}`}); its last lines:\n${output.slice(-20).join('\n')}`);
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the controller exited with ${code}:\n${output.join('\n')}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      if (line.includes('"controller listening"')) resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return { child, port, output };
}

/** The controller's NODE_OPTIONS in manifests/controller/deployment.yaml: the bench runs it as it is installed. */
function manifestNodeOptions(): string[] {
  const deployment = parse(readFileSync('manifests/controller/deployment.yaml', 'utf8')) as V1Deployment;
  const env = deployment.spec?.template.spec?.containers.find((container) => container.name === 'controller')?.env ?? [];
  return (
    env
      .find((variable) => variable.name === 'NODE_OPTIONS')
      ?.value?.split(/\s+/)
      .filter(Boolean) ?? []
  );
}

/** SIGTERM (the controller exits cleanly, writing a CPU profile if asked), SIGKILL after 5 s. */
/**
 * The stand-in agents listening and the bundled controller started against them, its ticks and
 * RSS sampled from its start (`startedAt`, epoch ms).
 */
export async function startSampledController(
  controlPlane: ControlPlane,
  agent: StandInAgents,
  env: Record<string, string>,
): Promise<{ started: BundledController; startedAt: number; sampler: ControllerSampler }> {
  const agentUrl = await agent.listen();
  const startedAt = Date.now();
  const started = await startBundledController(controlPlane, agentUrl, env);
  return { started, startedAt, sampler: new ControllerSampler(started.child.pid!, started.port) };
}

/** A bench's end, whatever happened: the controller, the stand-in agents, then the control plane. */
export async function stopClusterBench(controller: ChildProcess | undefined, agent: StandInAgents, controlPlane: ControlPlane): Promise<void> {
  await stopController(controller);
  await agent.close();
  await controlPlane.stop();
}

export async function stopController(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  if (process.env.BENCH_HEAP_SNAPSHOT) await heapSnapshot(child, process.env.BENCH_HEAP_SNAPSHOT);
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Asks the controller for a heap snapshot (SIGUSR2) and waits, up to 2 minutes, until V8 has written it. */
async function heapSnapshot(child: ChildProcess, dir: string): Promise<void> {
  const snapshots = () => readdirSync(dir).filter((name) => name.endsWith('.heapsnapshot') && name.includes(`.${child.pid}.`));
  const before = snapshots().length;
  child.kill('SIGUSR2');
  const deadline = Date.now() + 120_000;
  let size = -1;
  while (Date.now() < deadline) {
    await sleep(2000);
    const written = snapshots();
    if (written.length === before) continue;
    // V8 writes the file while the process is paused; a size that stopped growing is complete.
    const now = statSync(join(dir, written.at(-1)!)).size;
    if (now > 0 && now === size) return void console.log(`heap snapshot: ${join(dir, written.at(-1)!)} (${(now / 2 ** 20).toFixed(0)} MiB)`);
    size = now;
  }
  console.log('heap snapshot: not written within 2 minutes');
}

/** The controller's warnings and errors, the last five printed. */
export function printControllerWarnings(controller: BundledController): void {
  const warnings = controller.output.filter((line) => line.includes('"level":"warn"') || line.includes('"level":"error"'));
  if (warnings.length > 0) console.log(`controller warnings (${warnings.length}, last 5):\n${warnings.slice(-5).join('\n')}`);
}

/**
 * The controller's /metrics text: every metric, or only those `names` (what a poll needs: with
 * 1,000 workloads the whole text holds over 20,000 series, and rendering it twice a second was a
 * fifth of the controller's busy time in a CPU profile, counted against the ticks it measures).
 */
export async function scrape(port: number, ...names: string[]): Promise<string> {
  const query = names.map((name) => `name=${encodeURIComponent(name)}`).join('&');
  const res = await fetch(`http://127.0.0.1:${port}/metrics${query ? `?${query}` : ''}`);
  return res.text();
}
/** How many series of a metric the text holds, e.g. `ebb_recommendation_target{`. */
export const metricCount = (text: string, prefix: string) => text.split('\n').filter((line) => line.startsWith(prefix)).length;
/** One series' value, named with its labels as printed. */
export const seriesValue = (text: string, series: string) =>
  Number(
    text
      .split('\n')
      .find((line) => line.startsWith(`${series} `))
      ?.slice(series.length + 1) ?? NaN,
  );
export const metricValue = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

export interface TickHistogram {
  count: number;
  sum: number;
}
export const tickHistogram = (text: string): TickHistogram => ({
  count: metricValue(text, 'ebb_controller_tick_duration_seconds_count'),
  sum: metricValue(text, 'ebb_controller_tick_duration_seconds_sum'),
});

/** Waits until the controller says it leads. */
export async function controllerLeads(port: number): Promise<void> {
  await eventually(
    'the controller leads',
    async () => (metricValue(await scrape(port, 'ebb_controller_leader'), 'ebb_controller_leader') === 1 ? true : undefined),
    60_000,
  );
}

/**
 * Polls the controller every 500 ms (a quarter of a tick, so each tick is seen once): each tick's
 * duration and the RSS.
 */
export class ControllerSampler {
  readonly ticksMs: number[] = [];
  peakRssMB = 0;
  /** At the RSS peak: its anonymous and file-backed parts (MB), and when (s after the sampler started). */
  peakParts = { anon: 0, file: 0, atS: 0 };
  private readonly startedAt = Date.now();
  private lastCount = NaN;
  private recording = false;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly pid: number,
    private readonly port: number,
  ) {
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
      let rss: ReturnType<typeof rssMB>;
      try {
        rss = rssMB(this.pid);
      } catch {
        return; // the controller has exited: nothing more to sample
      }
      if (rss.rss > this.peakRssMB) {
        this.peakRssMB = rss.rss;
        this.peakParts = { anon: rss.anon, file: rss.file, atS: (Date.now() - this.startedAt) / 1000 };
      }
      const text = await scrape(this.port, 'ebb_controller_tick_duration_seconds', 'ebb_controller_last_tick_duration_seconds').catch(() => '');
      const count = metricValue(text, 'ebb_controller_tick_duration_seconds_count');
      // Exactly one tick since the last poll: the gauge is that tick's duration.
      if (this.recording && count === this.lastCount + 1) this.ticksMs.push(metricValue(text, 'ebb_controller_last_tick_duration_seconds') * 1000);
      this.lastCount = count;
      await sleep(500);
    }
  }
}
