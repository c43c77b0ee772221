// The one stand-in of the cluster benches: the agents of every node, answering the controller's
// GET /activity, GET /activity/rises and GET /usage for the pods placed on their node.

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { RiseFeed } from '../../agent/node/rise-feed.ts';
import type { LoadFigure } from '../../src/core/activity/rise.ts';
import { ACTIVITY_PATH, ACTIVITY_RISES_PATH, activityAnswer, asksForTotals, type ActivityReport, type WorkloadActivity } from '../../src/protocol/activity.ts';
import { USAGE_PATH, type ContainerUsage, type PodUsage, type UsageReport } from '../../src/protocol/usage.ts';
import type { WorkloadKey } from '../../src/protocol/workload.ts';
import { CONTROLLER_TOKEN } from '../fixtures/processes.ts';

/** How often the stand-in kubelets have a new sample (the agents' default scrape interval). */
const USAGE_SAMPLE_MS = 10_000;
/** How often the agents scrape their interceptors (EBB_SCRAPE_INTERVAL_MS's default): a load change is seen at the next round. */
const SCRAPE_ROUND_MS = 1_000;
/** Every workload's last request, this long before the report. */
const LAST_REQUEST_AGO_MS = 10;
/** The time a kept totals body is built with, replaced by the time of each answer: no other figure in it is this large. */
const TIME_MARK = 9_000_000_000_000_000;

/** The body with the time of the answer where it has TIME_MARK (and the last request's where it has that less LAST_REQUEST_AGO_MS). */
const withTimes = (body: string, now: number) =>
  body.replaceAll(String(TIME_MARK - LAST_REQUEST_AGO_MS), String(now - LAST_REQUEST_AGO_MS)).replaceAll(String(TIME_MARK), String(now));

/**
 * What each container of every pod uses: `cpuCores` and `memoryBytes`, each times
 * (1 + variation × sin(2π t / period)) where the options' `variation` applies to it.
 */
export interface StandInUsage {
  container: string;
  cpuCores: number;
  memoryBytes: number;
  varies?: { cpu?: boolean; memory?: boolean };
}

export interface StandInOptions {
  /** Pods per workload, in both reports. */
  replicas: number;
  /** Agents (one per node), each reporting its share of the pods. */
  nodes: number;
  /** Requests in flight per pod, until changed in `perPodInFlight`. */
  perPodInFlight: number;
  /** Every pod's containers. */
  usage: StandInUsage[];
  /** How the figures that vary do: ± this fraction, over this period. */
  variation?: { fraction: number; periodMs: number };
}

/**
 * The stand-in for the agents of a cluster: one HTTP server per node, as the DaemonSet has one agent
 * per node, each reporting the pods placed on its node (a workload's pods spread round robin over
 * the nodes, as the scheduler spreads them here) — so the controller pulls, parses and merges one
 * report per node, as it does in a cluster. The bodies the controller pulls are built once per
 * node and kept, the activity totals while the load does not change and the usage reports while
 * the kubelet sample is the same, with each answer's time written in: in a cluster the agents
 * answer at once, each on its own node, while here one process answers the 20 in turn, and
 * building each body per request added their sum to the ticks the bench measures (about 20 ms
 * every tick for the totals, a millisecond each, and up to 100 ms for the activity requests that
 * came in behind a round of usage requests). Full activity reports are built per request.
 */
export class StandInAgents {
  private readonly perPodInFlight = new Map<WorkloadKey, number>();
  /** Per node and form asked for (objects or columns), the totals body for the load as it is; emptied when the load changes. */
  private readonly totalsBodies = new Map<string, string>();
  /** Per node, the usage body of the sample taken at `sampledAt`. */
  private usageBodies = { sampledAt: NaN, byNode: new Map<number, string>() };
  activityRequests = 0;
  usageRequests = 0;
  private readonly servers: http.Server[];
  /** Per node, the workloads with pods on it and those pods' names: placed once, read per report. */
  private readonly placements: { workload: WorkloadKey; pods: string[] }[][];
  /** Per node, the agent's own rise feed, observing every scrape round as the agent does. */
  private readonly rises: RiseFeed[];
  private readonly scrapeRounds: NodeJS.Timeout;

  constructor(
    workloads: readonly WorkloadKey[],
    private readonly options: StandInOptions,
  ) {
    for (const key of workloads) this.perPodInFlight.set(key, options.perPodInFlight);
    this.placements = placePods(workloads, options.replicas, options.nodes);
    this.servers = this.placements.map((_, node) => http.createServer((req, res) => this.answer(node, req, res)));
    this.rises = this.placements.map((_, node) => new RiseFeed(`kwok-node-${node}`));
    this.scrapeRounds = setInterval(() => this.rises.forEach((feed, node) => feed.observe(this.loads(node))), SCRAPE_ROUND_MS);
  }

  /** Sets a workload's requests in flight per pod, which every report from now on says. */
  setPerPodInFlight(workload: WorkloadKey, inFlight: number): void {
    this.perPodInFlight.set(workload, inFlight);
    this.totalsBodies.clear();
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
    clearInterval(this.scrapeRounds);
    for (const feed of this.rises) feed.close();
    await Promise.all(
      this.servers.map((server) => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      }),
    );
  }

  private answer(node: number, req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (![ACTIVITY_PATH, ACTIVITY_RISES_PATH, USAGE_PATH].includes(url.pathname)) return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${CONTROLLER_TOKEN}`) return void res.writeHead(401).end('unauthenticated');
    // Held until a rise, as the agent holds it.
    if (url.pathname === ACTIVITY_RISES_PATH) return this.rises[node]!.serve(url.searchParams, res);
    if (url.pathname === USAGE_PATH) this.usageRequests++;
    else {
      this.activityRequests++;
      this.rises[node]!.reportRead(this.loads(node));
    }
    // As the agent answers: the whole report, or its totals (what the controller asks for).
    const activity = () => (asksForTotals(url.searchParams) ? this.totalsBody(node, url.searchParams) : JSON.stringify(this.report(node, Date.now())));
    const body = url.pathname === USAGE_PATH ? this.usageBody(node) : activity();
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  }

  /** One pod's requests in flight for the workload, as every report says. */
  private inFlight(workload: WorkloadKey): number {
    return this.perPodInFlight.get(workload) ?? 0;
  }

  /** Each workload's load on the node, as a scrape round sees it. */
  private loads(node: number): LoadFigure[] {
    return this.placements[node]!.map(({ workload, pods }) => ({ workload, meanInFlight: this.inFlight(workload) * pods.length, held: 0 }));
  }

  /** The node's totals as of now: the body kept for the load, with this moment's times written in. */
  private totalsBody(node: number, query: URLSearchParams): string {
    const key = `${node} ${query.get('form')}`;
    let body = this.totalsBodies.get(key);
    if (body === undefined) {
      body = JSON.stringify(activityAnswer(this.report(node, TIME_MARK), query));
      this.totalsBodies.set(key, body);
    }
    return withTimes(body, Date.now());
  }

  /** The node's usage report as of now: the body kept for the newest kubelet sample, with this moment's time written in. */
  private usageBody(node: number): string {
    const now = Date.now();
    const sampledAt = Math.floor(now / USAGE_SAMPLE_MS) * USAGE_SAMPLE_MS;
    if (this.usageBodies.sampledAt !== sampledAt) this.usageBodies = { sampledAt, byNode: new Map() };
    let body = this.usageBodies.byNode.get(node);
    if (body === undefined) {
      body = JSON.stringify(this.usage(node, sampledAt, TIME_MARK));
      this.usageBodies.byNode.set(node, body);
    }
    return withTimes(body, now);
  }

  /** The kubelet's sample of every pod on the node taken at `at` (a 10-s boundary), in a report made at `now`. */
  private usage(node: number, at: number, now: number): UsageReport {
    const { fraction = 0, periodMs = 1 } = this.options.variation ?? {};
    const factor = 1 + fraction * Math.sin((2 * Math.PI * at) / periodMs);
    const containers = this.options.usage.map(({ container, cpuCores, memoryBytes, varies }): ContainerUsage => ({
      container,
      cpuCores: varies?.cpu ? cpuCores * factor : cpuCores,
      memoryBytes: varies?.memory ? Math.round(memoryBytes * factor) : memoryBytes,
      at,
    }));
    const pods = this.placements[node]!.flatMap(({ workload, pods }): PodUsage[] => pods.map((pod) => ({ pod, workload, containers })));
    return { node: `kwok-node-${node}`, generatedAt: now, scrapedAt: at, stale: false, pods, ooms: [] };
  }

  private report(node: number, now: number): ActivityReport {
    const workloads = this.placements[node]!.map(({ workload, pods }): WorkloadActivity => {
      const perPod = this.inFlight(workload);
      return {
        workload,
        inFlight: perPod * pods.length,
        meanInFlight: perPod * pods.length,
        requestRate: perPod * pods.length * 20,
        lastRequestAt: now - LAST_REQUEST_AGO_MS,
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

/** The bench's first message to the stand-ins' process: what to build. */
export interface StandInStart {
  workloads: WorkloadKey[];
  options: StandInOptions;
}
/** The bench's later messages; each is answered with a StandInTold `done` of the same id. */
export type StandInRequest = { type: 'set'; id: number; workload: WorkloadKey; perPodInFlight: number } | { type: 'count'; id: number } | { type: 'close' };
export type StandInTold = { type: 'listening'; urls: string } | Done;
type Done = { type: 'done'; id: number; activityRequests: number; usageRequests: number };

/**
 * The stand-in agents, answering from a process and a session of their own. In a cluster each
 * node's agent answers on its own node; answered from the bench's event loop, the agents' answers
 * waited for whatever else the bench did (its pollers and watches), and that wait was counted in
 * the ticks the bench measures. A session of its own, because Linux's autogroup scheduling divides
 * the CPU between sessions: the control plane's components each have one.
 */
export class StandInAgentsProcess {
  private nextId = 0;
  private readonly answers = new Map<number, { resolve: (told: Done) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    /** The agents' URLs, as a comma-separated list (EBB_AGENT_URLS). */
    readonly urls: string,
  ) {
    child.on('message', (told: StandInTold) => {
      if (told.type !== 'done') return;
      this.answers.get(told.id)?.resolve(told);
      this.answers.delete(told.id);
    });
    child.once('exit', (code, signal) => {
      for (const { reject } of this.answers.values()) reject(new Error(`the stand-in agents exited (${signal ?? `code ${code}`})`));
      this.answers.clear();
    });
  }

  static async start(workloads: readonly WorkloadKey[], options: StandInOptions): Promise<StandInAgentsProcess> {
    const child = fork(new URL('./stand-in-agents-child.ts', import.meta.url).pathname, {
      execArgv: ['--import', 'tsx'],
      // A session of its own: its own share of the CPU under autogroup scheduling, as a node's agent has its own node.
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const killNow = () => child.kill('SIGKILL');
    process.once('exit', killNow);
    child.once('exit', () => process.off('exit', killNow));
    const listening = new Promise<string>((resolve, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`the stand-in agents exited (${signal ?? `code ${code}`}) before listening`)));
      child.on('message', (told: StandInTold) => told.type === 'listening' && resolve(told.urls));
    });
    child.send({ workloads: [...workloads], options } satisfies StandInStart);
    return new StandInAgentsProcess(child, await listening);
  }

  /** Sets a workload's requests in flight per pod; resolves once every report from now on says it. */
  async setPerPodInFlight(workload: WorkloadKey, perPodInFlight: number): Promise<void> {
    await this.ask((id) => ({ type: 'set', id, workload, perPodInFlight }));
  }

  /** How many activity and usage reports the agents have answered. */
  async requests(): Promise<{ activityRequests: number; usageRequests: number }> {
    const { activityRequests, usageRequests } = await this.ask((id) => ({ type: 'count', id }));
    return { activityRequests, usageRequests };
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'close' } satisfies StandInRequest);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private ask(request: (id: number) => StandInRequest): Promise<Done> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.answers.set(id, { resolve, reject });
      this.child.send(request(id));
    });
  }
}
