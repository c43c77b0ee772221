// Reverse-proxy benchmark: the interceptor against nginx (1 worker, keep-alive upstream) and
// against no proxy at all, with the same upstream and the same load generator, in interleaved
// rounds, each proxy pinned to core 1 (the upstream and this load generator run on core 0).
//   efficiency: requests per CPU-second of the proxy under closed-loop load (16 connections)
//   latency:    p50/p99 added over direct at a fixed 1,000 requests per second (open loop)
//   memory:     RSS of the proxy process after the load (nginx: its worker)
// Targets: ≥ 0.6× nginx requests per CPU-second, added p99 ≤ 1 ms, RSS ≤ 45 MB.
// Run: node --import tsx test/bench/proxy.ts   (installs nginx with apt-get when missing)

import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INTERCEPTOR_NODE_OPTIONS } from '../../src/protocol/sidecar.ts';
import { bundleInterceptor, cpuSeconds, loadAverage, percentile, rssMB, writeResult } from './bench-support.ts';

const ROUNDS = Number(process.env.EBB_BENCH_ROUNDS ?? 3);
/** How the interceptor's node runs in the pod (the NODE_OPTIONS the webhook gives the sidecar), unless the bench is told otherwise. */
const INTERCEPTOR_NODE_FLAGS = (process.env.EBB_BENCH_NODE_FLAGS ?? INTERCEPTOR_NODE_OPTIONS).split(' ').filter(Boolean);
const EFFICIENCY_MS = 2_000;
const LATENCY_MS = 3_000;
const RATE = 1_000;
const CONCURRENCY = 16;
const BODY = 'x'.repeat(256);

function ensureNginx(): string {
  const find = () => execSync('command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true').toString().trim().split('\n')[0] ?? '';
  if (find()) return find();
  console.log('installing nginx (apt-get)…');
  execSync('apt-get update -qq && (apt-get install -y -qq nginx-light || apt-get install -y -qq nginx)', { stdio: 'inherit' });
  const path = find();
  if (!path) throw new Error('nginx could not be installed');
  return path;
}

async function startUpstream(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
    res.end(BODY);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () =>
      http
        .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
          res.resume();
          resolve();
        })
        .on('error', () => (performance.now() > deadline ? reject(new Error(`port ${port} never answered`)) : setTimeout(attempt, 50)));
    attempt();
  });
}

async function freePort(): Promise<number> {
  const server = http.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  server.close();
  return port;
}

interface Proxy {
  name: string;
  port: number;
  /** The process whose CPU and memory count (nginx: the worker). */
  pid: number | undefined;
  stop(): void;
}

async function startNginx(nginx: string, upstreamPort: number): Promise<Proxy> {
  const dir = mkdtempSync(join(tmpdir(), 'ebb-bench-nginx-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 100000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
    }
  }
}
`,
  );
  const child = spawn('taskset', ['-c', '1', nginx, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'inherit' });
  await waitForPort(port);
  const workerPid = Number(execSync(`pgrep -P ${child.pid} -f 'nginx: worker' || true`).toString().trim().split('\n')[0]);
  return { name: 'nginx', port, pid: workerPid || undefined, stop: () => child.kill('SIGQUIT') };
}

async function startInterceptor(bundle: string, upstreamPort: number): Promise<Proxy> {
  const port = await freePort();
  const adminPort = await freePort();
  const child: ChildProcess = spawn('taskset', ['-c', '1', process.execPath, ...INTERCEPTOR_NODE_FLAGS, bundle], {
    env: { ...process.env, EBB_LISTEN_HOST: '127.0.0.1', EBB_LISTEN_PORT: String(port), EBB_ADMIN_PORT: String(adminPort), EBB_APP_PORT: String(upstreamPort), EBB_WORKLOAD: 'bench/app' },
    stdio: 'ignore',
  });
  await waitForPort(port);
  // taskset execs node in place, so the child's pid is node's.
  return { name: 'interceptor', port, pid: child.pid, stop: () => child.kill('SIGKILL') };
}

/** Closed loop for `durationMs`: returns the number of answered requests. */
async function closedLoop(port: number, durationMs: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const deadline = performance.now() + durationMs;
  let answered = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await new Promise<void>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            answered += 1;
            resolve();
          });
        }).on('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  agent.destroy();
  return answered;
}

/** Open loop at RATE requests per second for `durationMs`: latencies in ms. */
async function openLoop(port: number, durationMs: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  const total = Math.round((RATE * durationMs) / 1000);
  const started = performance.now();
  let sent = 0;
  const pending: Promise<void>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * RATE) / 1000));
    for (; sent < due; sent += 1) {
      const begin = performance.now();
      pending.push(
        new Promise<void>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
            res.resume();
            res.on('end', () => {
              latencies.push(performance.now() - begin);
              resolve();
            });
          }).on('error', reject);
        }),
      );
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(pending);
  agent.destroy();
  return latencies.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  execSync(`taskset -p -c 0 ${process.pid}`, { stdio: 'ignore' });
  const nginxPath = ensureNginx();
  const bundle = bundleInterceptor();
  const { server: upstream, port: upstreamPort } = await startUpstream();
  console.log(`load average before: ${loadAverage()}`);

  const proxies = [await startNginx(nginxPath, upstreamPort), await startInterceptor(bundle, upstreamPort)];
  const targets = [{ name: 'direct', port: upstreamPort, pid: undefined as number | undefined }, ...proxies];
  try {
    for (const target of targets) await closedLoop(target.port, 300); // warm-up
    const perCpuSecond = new Map<string, number[]>();
    const latency = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const target of targets) {
        const cpuBefore = target.pid ? cpuSeconds(target.pid) : 0;
        const answered = await closedLoop(target.port, EFFICIENCY_MS);
        const cpu = target.pid ? cpuSeconds(target.pid) - cpuBefore : NaN;
        perCpuSecond.set(target.name, [...(perCpuSecond.get(target.name) ?? []), answered / cpu]);
        latency.set(target.name, [...(latency.get(target.name) ?? []), ...(await openLoop(target.port, LATENCY_MS))]);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
    const rows = targets.map((target) => {
      const sorted = (latency.get(target.name) ?? []).sort((a, b) => a - b);
      return { name: target.name, perCpu: median(perCpuSecond.get(target.name) ?? []), p50: percentile(sorted, 50), p99: percentile(sorted, 99), rss: target.pid ? rssMB(target.pid) : undefined };
    });
    const direct = rows[0]!;
    console.log('\nproxy        req/CPU-s   p50 ms  p99 ms  +p50 ms  +p99 ms  RSS MB (peak)');
    for (const row of rows) {
      console.log(
        `${row.name.padEnd(12)} ${Number.isFinite(row.perCpu) ? row.perCpu.toFixed(0).padStart(9) : '        -'}  ${row.p50.toFixed(3).padStart(6)}  ${row.p99.toFixed(3).padStart(6)}  ${(row.p50 - direct.p50).toFixed(3).padStart(7)}  ${(row.p99 - direct.p99).toFixed(3).padStart(7)}  ${row.rss ? `${row.rss.rss.toFixed(1)} (${row.rss.peak.toFixed(1)})` : '-'}`,
      );
    }
    const nginx = rows.find((r) => r.name === 'nginx')!;
    const interceptor = rows.find((r) => r.name === 'interceptor')!;
    writeResult('proxy', {
      interceptor_req_per_cpu_s: interceptor.perCpu,
      nginx_req_per_cpu_s: nginx.perCpu,
      ratio_vs_nginx: interceptor.perCpu / nginx.perCpu,
      added_p50_ms: interceptor.p50 - direct.p50,
      added_p99_ms: interceptor.p99 - direct.p99,
      nginx_added_p99_ms: nginx.p99 - direct.p99,
      interceptor_rss_mb: interceptor.rss?.rss ?? NaN,
      interceptor_peak_rss_mb: interceptor.rss?.peak ?? NaN,
      nginx_worker_rss_mb: nginx.rss?.rss ?? NaN,
      load_average: loadAverage(),
    });
  } finally {
    for (const proxy of proxies) proxy.stop();
    upstream.closeAllConnections();
    upstream.close();
  }
}

await main();
