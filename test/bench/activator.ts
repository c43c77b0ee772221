// Activator benchmark: 1, 100, 1,000 and 10,000 requests held for a sleeping workload, then released when
// its backend becomes ready. Measures the time from "ready" (the directory's callback) to each
// request's arrival at the backend (p50/p99/max; target p99 ≤ 20 ms) and the memory each held
// request costs this process (heap and RSS growth while holding, after a GC).
// The clients and the backend run in another process (activator-peer.ts), pinned to core 0; the
// activator runs here on core 1.
// Run: node --expose-gc --import tsx test/bench/activator.ts

import { execSync, fork } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { V1DaemonSet } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { parseMemory } from '../../src/core/quantity.ts';
import { DEFAULT_HOLD_LIMITS } from '../../src/core/activity/hold-ledger.ts';
import type { SleepingService } from '../../src/core/activity/route.ts';
import { Activator } from '../../agent/node/activator/activator.ts';
import type { Backend, BackendSource } from '../../agent/node/activator/directory.ts';
import { loadAverage, percentile, sleep, writeResult } from './bench-support.ts';

/** The sleeping workload whose requests are held: the activator's port for it is the server below. */
const TARGET: SleepingService = { workload: 'bench/app', service: null, portName: '' };

/** Readiness that the benchmark switches on by hand. */
class ManualBackends implements BackendSource {
  private waiting: ((backend: Backend) => void) | undefined;
  private ready: Backend | undefined;

  whenReady(_target: SleepingService, callback: (backend: Backend) => void): () => void {
    if (this.ready) callback(this.ready);
    else this.waiting = callback;
    return () => (this.waiting = undefined);
  }
  markReady(backend: Backend): void {
    this.ready = backend;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(backend);
  }
  reset(): void {
    this.ready = undefined;
  }
}

/** Requests held at once, a row each. */
const SIZES = [1, 100, 1_000, 10_000];

const gc = (globalThis as { gc?: () => void }).gc;
const heapAfterGc = () => {
  gc?.();
  return { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
};

/** The memory limit of the agent's container in the manifests, in MiB. */
function agentMemoryLimitMB(): number {
  const daemonSet = parse(readFileSync('manifests/agent/daemonset.yaml', 'utf8')) as V1DaemonSet;
  const limit = daemonSet.spec?.template.spec?.containers.find((container) => container.name === 'agent')?.resources?.limits?.memory;
  const parsed = limit === undefined ? undefined : parseMemory(String(limit));
  if (!parsed?.ok) throw new Error(`manifests/agent/daemonset.yaml: no memory limit on the agent container (${String(limit)})`);
  return parsed.value / 2 ** 20;
}

async function main(): Promise<void> {
  execSync(`taskset -p -c 1 ${process.pid}`, { stdio: 'ignore' });
  if (!gc) console.log('(run with --expose-gc for exact memory figures)');
  console.log(`load average before: ${loadAverage()}`);
  const peer = fork('test/bench/activator-peer.ts', { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  execSync(`taskset -p -c 0 ${peer.pid}`, { stdio: 'ignore' });
  const directory = new ManualBackends();
  // Room for the largest row: the agent's own default caps (EBB_HOLD_MAX_REQUESTS) are compared with it below.
  const limits = { ...DEFAULT_HOLD_LIMITS, maxRequestsPerWorkload: Math.max(...SIZES), maxRequests: Math.max(...SIZES) };
  const activator = new Activator({ directory, wake: undefined, node: 'bench', limits, log: () => undefined });
  const server = http.createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, activator.serve(TARGET));
  server.maxHeadersCount = 100;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const activatorPort = (server.address() as AddressInfo).port;
  peer.send({ backendPort: 0 });
  const [{ listening: backendPort }] = (await once(peer, 'message')) as [{ listening: number }];

  const rows: Record<string, number> = {};
  try {
    for (const held of SIZES) {
      directory.reset();
      const before = heapAfterGc();
      peer.send({ send: held, activatorPort });
      // Bounded: 10,000 clients connect within seconds here; 60 s is far past any normal run.
      for (let i = 0; i < 2_400 && (activator.heldByWorkload().get('bench/app') ?? 0) < held; i += 1) await sleep(25);
      if ((activator.heldByWorkload().get('bench/app') ?? 0) !== held)
        throw new Error(`only ${activator.heldByWorkload().get('bench/app') ?? 0} of ${held} were held`);
      const holding = heapAfterGc();
      const done = once(peer, 'message') as Promise<[{ done: { ok: number; arrivals: number[] } }]>;
      const readyAt = performance.timeOrigin + performance.now();
      directory.markReady({ host: '127.0.0.1', port: backendPort });
      const [{ done: result }] = await done;
      const delays = result.arrivals.map((t) => t - readyAt).sort((a, b) => a - b);
      rows[`held${held}_p50_ms`] = percentile(delays, 50);
      rows[`held${held}_p99_ms`] = percentile(delays, 99);
      rows[`held${held}_max_ms`] = delays.at(-1) ?? NaN;
      rows[`held${held}_answered_ok`] = result.ok;
      if (held >= 100) {
        rows[`held${held}_heap_bytes_per_request`] = (holding.heap - before.heap) / held;
        rows[`held${held}_rss_bytes_per_request`] = (holding.rss - before.rss) / held;
        rows[`held${held}_rss_mb`] = holding.rss / 2 ** 20;
      }
      console.log(
        `held ${String(held).padStart(5)}: ready→forwarded p50 ${rows[`held${held}_p50_ms`]?.toFixed(2)} ms, p99 ${rows[`held${held}_p99_ms`]?.toFixed(2)} ms, max ${rows[`held${held}_max_ms`]?.toFixed(2)} ms; ${result.ok}/${held} answered 200` +
          (held >= 100
            ? `; per held request: heap ${((holding.heap - before.heap) / held / 1024).toFixed(1)} KiB, RSS ${((holding.rss - before.rss) / held / 1024).toFixed(1)} KiB; RSS while holding ${(holding.rss / 2 ** 20).toFixed(1)} MB`
            : ''),
      );
    }
    const limitMB = agentMemoryLimitMB();
    console.log(
      `the agent's memory limit (manifests/agent/daemonset.yaml): ${limitMB} MB; this process held 10,000 requests at ${rows.held10000_rss_mb?.toFixed(1)} MB RSS`,
    );
    writeResult('activator', { ...rows, agent_memory_limit_mb: limitMB, load_average: loadAverage() });
  } finally {
    activator.close();
    server.closeAllConnections();
    server.close();
    peer.disconnect();
    peer.kill();
  }
}

await main();
