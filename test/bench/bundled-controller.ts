// The controller as the cluster benches run it: bundled as it ships and run as a child process
// against the stand-in agents, its ticks and RSS sampled from its /metrics and /proc.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { V1Deployment } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { eventually, type ControlPlane } from '../fixtures/control-plane.ts';
import { controllerEnvironment } from '../fixtures/controller.ts';
import { CONTROLLER_TOKEN } from '../fixtures/processes.ts';
import { rssMB, sleep } from './bench-support.ts';
import type { StandInAgentsProcess } from './stand-in-agents.ts';

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

/**
 * The bundled controller started against the stand-in agents, its ticks and
 * RSS sampled from its start (`startedAt`, epoch ms).
 */
export async function startSampledController(
  controlPlane: ControlPlane,
  agents: StandInAgentsProcess,
  env: Record<string, string>,
): Promise<{ started: BundledController; startedAt: number; sampler: ControllerSampler }> {
  const startedAt = Date.now();
  const started = await startBundledController(controlPlane, agents.urls, env);
  return { started, startedAt, sampler: new ControllerSampler(started.child.pid!, started.port) };
}

/** SIGTERM (the controller exits cleanly, writing a CPU profile if asked), SIGKILL after 5 s. */
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
 * duration, the part of it spent pulling the agents' activity, and the RSS.
 */
export class ControllerSampler {
  readonly ticksMs: number[] = [];
  /** Of each tick in ticksMs, the time it spent pulling the agents' activity. */
  readonly agentsMs: number[] = [];
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
      const text = await scrape(
        this.port,
        'ebb_controller_tick_duration_seconds',
        'ebb_controller_last_tick_duration_seconds',
        'ebb_controller_last_tick_agents_seconds',
      ).catch(() => '');
      const count = metricValue(text, 'ebb_controller_tick_duration_seconds_count');
      // Exactly one tick since the last poll: the gauges are that tick's.
      if (this.recording && count === this.lastCount + 1) {
        this.ticksMs.push(metricValue(text, 'ebb_controller_last_tick_duration_seconds') * 1000);
        this.agentsMs.push(metricValue(text, 'ebb_controller_last_tick_agents_seconds') * 1000);
      }
      this.lastCount = count;
      await sleep(500);
    }
  }
}
