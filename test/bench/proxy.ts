// Reverse-proxy benchmark: the interceptor against nginx (1 worker, keep-alive upstream) and
// against no proxy at all, with the same upstream and the same load generator, in interleaved
// rounds, each proxy pinned to core 1 (the upstream and this load generator run on core 0).
//   efficiency: requests per CPU-second of the proxy under closed-loop load (16 connections)
//   latency:    p50/p99 added over direct at a fixed 1,000 requests per second (open loop)
//   memory:     RSS of the proxy process after the load (nginx: its worker), and of an empty Node
//               process with the same flags in the same run (the interceptor's RSS above it is its own)
// Targets: ≥ 0.6× nginx requests per CPU-second, added p99 ≤ 1 ms, RSS ≤ 45 MB.
// Then the same for HTTP/2 (result proxy-h2): h2c with prior knowledge to the proxy, which forwards
// each stream as an h2 stream to an h2c upstream (node:http2). nginx fronts it with
// `listen … http2` and forwards with `grpc_pass`, its one way to speak HTTP/2 to an upstream (its
// proxy_pass speaks only HTTP/1.x): h2 in and h2 out for both, the like-for-like. The load is one
// node:http2 client over H2_SESSIONS connections: CONCURRENCY streams in flight (closed loop), and
// RATE streams per second (open loop), each loop bounded in time.
// Run: node --import tsx test/bench/proxy.ts   (installs nginx with apt-get when missing)

import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
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
/** The HTTP/2 load's connections: the CONCURRENCY streams in flight go 4 to each, as for HTTP/1.1's 16 requests. */
const H2_SESSIONS = 4;

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

async function startH2Upstream(): Promise<{ server: http2.Http2Server; port: number }> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': BODY.length });
    stream.end(BODY);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

function h2Get(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': '/' }, { endStream: true });
    stream.on('error', reject);
    stream.on('end', resolve);
    stream.resume();
  });
}

function h2Sessions(port: number, count: number): http2.ClientHttp2Session[] {
  return Array.from({ length: count }, () => http2.connect(`http://127.0.0.1:${port}`).on('error', () => undefined));
}

/** Retries an HTTP/2 request until it is answered: the proxy listens and reaches its upstream. */
function waitForH2Port(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const [session] = h2Sessions(port, 1);
      h2Get(session!).then(
        () => {
          session!.close();
          resolve();
        },
        () => {
          session!.destroy();
          if (performance.now() > deadline) reject(new Error(`port ${port} never answered over HTTP/2`));
          else setTimeout(attempt, 50);
        },
      );
    };
    attempt();
  });
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

/** nginx's HTTP/1.1 site: keep-alive upstream, X-Forwarded-* as the interceptor adds them. */
const HTTP1_SITE = (port: number, upstreamPort: number) => `upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
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
  }`;

/** nginx's HTTP/2 site: h2c with prior knowledge in, each stream to the h2c upstream by grpc_pass over kept-alive connections. */
const H2_SITE = (port: number, upstreamPort: number) => `upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; keepalive_requests 100000; }
  server {
    listen 127.0.0.1:${port} http2;
    keepalive_requests 100000;
    location / {
      grpc_pass grpc://app;
      grpc_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      grpc_set_header X-Forwarded-Proto $scheme;
    }
  }`;

async function startNginx(nginx: string, upstreamPort: number, site = HTTP1_SITE, name = 'nginx'): Promise<Proxy> {
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
  ${site(port, upstreamPort)}
}
`,
  );
  const child = spawn('taskset', ['-c', '1', nginx, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'inherit' });
  await (site === H2_SITE ? waitForH2Port(port) : waitForPort(port));
  const workerPid = Number(execSync(`pgrep -P ${child.pid} -f 'nginx: worker' || true`).toString().trim().split('\n')[0]);
  return { name, port, pid: workerPid || undefined, stop: () => child.kill('SIGQUIT') };
}

async function startInterceptor(bundle: string, upstreamPort: number, name = 'interceptor', ready = waitForPort): Promise<Proxy> {
  const port = await freePort();
  const adminPort = await freePort();
  const child: ChildProcess = spawn('taskset', ['-c', '1', process.execPath, ...INTERCEPTOR_NODE_FLAGS, bundle], {
    env: {
      ...process.env,
      EBB_LISTEN_HOST: '127.0.0.1',
      EBB_LISTEN_PORT: String(port),
      EBB_ADMIN_PORT: String(adminPort),
      EBB_APP_PORT: String(upstreamPort),
      EBB_WORKLOAD: 'bench/app',
    },
    stdio: 'ignore',
  });
  await ready(port);
  // taskset execs node in place, so the child's pid is node's.
  return { name, port, pid: child.pid, stop: () => child.kill('SIGKILL') };
}

/** How a load loop sends one request and waits for its whole answer; `close` lets go of its connections. */
interface Client {
  send(): Promise<void>;
  close(): void;
}

function http1Client(port: number, maxSockets: number): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return {
    send: () =>
      new Promise<void>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
          .on('error', reject);
      }),
    close: () => agent.destroy(),
  };
}

/** H2_SESSIONS connections, the streams spread over them in turn. */
function h2Client(port: number): Client {
  const sessions = h2Sessions(port, H2_SESSIONS);
  let next = 0;
  return {
    send: () => h2Get(sessions[(next += 1) % sessions.length]!),
    close: () => sessions.forEach((session) => session.destroy()),
  };
}

/** Closed loop for `durationMs`, CONCURRENCY requests in flight: returns the number of answered requests. */
async function closedLoop(client: Client, durationMs: number): Promise<number> {
  const deadline = performance.now() + durationMs;
  let answered = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await client.send();
      answered += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  client.close();
  return answered;
}

/** Open loop at RATE requests per second for `durationMs`: latencies in ms. */
async function openLoop(client: Client, durationMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const total = Math.round((RATE * durationMs) / 1000);
  const started = performance.now();
  let sent = 0;
  const pending: Promise<void>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * RATE) / 1000));
    for (; sent < due; sent += 1) {
      const begin = performance.now();
      pending.push(client.send().then(() => void latencies.push(performance.now() - begin)));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(pending);
  client.close();
  return latencies.sort((a, b) => a - b);
}

interface Target {
  name: string;
  port: number;
  pid: number | undefined;
}

interface Row {
  name: string;
  perCpu: number;
  p50: number;
  p99: number;
  rss: ReturnType<typeof rssMB> | undefined;
}

/** Interleaved rounds over the targets: requests per CPU-second (median), latency percentiles, RSS after. */
async function measure(targets: readonly Target[], connect: { closed: (port: number) => Client; open: (port: number) => Client }): Promise<Row[]> {
  for (const target of targets) await closedLoop(connect.closed(target.port), 300); // warm-up
  const perCpuSecond = new Map<string, number[]>();
  const latency = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const target of targets) {
      const cpuBefore = target.pid ? cpuSeconds(target.pid) : 0;
      const answered = await closedLoop(connect.closed(target.port), EFFICIENCY_MS);
      const cpu = target.pid ? cpuSeconds(target.pid) - cpuBefore : NaN;
      perCpuSecond.set(target.name, [...(perCpuSecond.get(target.name) ?? []), answered / cpu]);
      latency.set(target.name, [...(latency.get(target.name) ?? []), ...(await openLoop(connect.open(target.port), LATENCY_MS))]);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  return targets.map((target) => {
    const sorted = (latency.get(target.name) ?? []).sort((a, b) => a - b);
    return {
      name: target.name,
      perCpu: median(perCpuSecond.get(target.name) ?? []),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      rss: target.pid ? rssMB(target.pid) : undefined,
    };
  });
}

function printRows(rows: readonly Row[]): void {
  const direct = rows[0]!;
  console.log('\nproxy        req/CPU-s   p50 ms  p99 ms  +p50 ms  +p99 ms  RSS MB (peak)');
  for (const row of rows) {
    console.log(
      `${row.name.padEnd(12)} ${Number.isFinite(row.perCpu) ? row.perCpu.toFixed(0).padStart(9) : '        -'}  ${row.p50.toFixed(3).padStart(6)}  ${row.p99.toFixed(3).padStart(6)}  ${(row.p50 - direct.p50).toFixed(3).padStart(7)}  ${(row.p99 - direct.p99).toFixed(3).padStart(7)}  ${row.rss ? `${row.rss.rss.toFixed(1)} (${row.rss.peak.toFixed(1)})` : '-'}`,
    );
  }
}

/** The figures of a RESULT line: the interceptor against nginx and direct. */
function figures(rows: readonly Row[]): Record<string, number | string> {
  const direct = rows[0]!;
  const nginx = rows.find((r) => r.name.startsWith('nginx'))!;
  const interceptor = rows.find((r) => r.name.startsWith('interceptor'))!;
  return {
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
  };
}

/**
 * An empty Node process with the interceptor's flags, idle beside the load: what any Node program
 * costs before it does anything. The interceptor's RSS above it is what the proxy itself costs.
 */
function startEmptyNode(): { pid: number | undefined; stop(): void } {
  const child = spawn('taskset', ['-c', '1', process.execPath, ...INTERCEPTOR_NODE_FLAGS, '-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
  return { pid: child.pid, stop: () => child.kill('SIGKILL') };
}

async function benchHttp1(nginxPath: string, bundle: string): Promise<void> {
  const { server: upstream, port: upstreamPort } = await startUpstream();
  const proxies = [await startNginx(nginxPath, upstreamPort), await startInterceptor(bundle, upstreamPort)];
  const emptyNode = startEmptyNode();
  try {
    const rows = await measure([{ name: 'direct', port: upstreamPort, pid: undefined }, ...proxies], {
      closed: (port) => http1Client(port, CONCURRENCY),
      open: (port) => http1Client(port, 64),
    });
    printRows(rows);
    const baseline = rssMB(emptyNode.pid!).rss;
    const interceptorRss = rows.find((r) => r.name.startsWith('interceptor'))?.rss?.rss ?? NaN;
    console.log(`empty node   RSS ${baseline.toFixed(1)} MB (same flags, same run): the interceptor is ${(interceptorRss - baseline).toFixed(1)} MB above it`);
    writeResult('proxy', { ...figures(rows), empty_node_rss_mb: baseline, interceptor_rss_above_empty_node_mb: interceptorRss - baseline });
  } finally {
    emptyNode.stop();
    for (const proxy of proxies) proxy.stop();
    upstream.closeAllConnections();
    upstream.close();
  }
}

async function benchHttp2(nginxPath: string, bundle: string): Promise<void> {
  const { server: upstream, port: upstreamPort } = await startH2Upstream();
  const proxies = [
    await startNginx(nginxPath, upstreamPort, H2_SITE, 'nginx-h2'),
    await startInterceptor(bundle, upstreamPort, 'interceptor-h2', waitForH2Port),
  ];
  try {
    const rows = await measure([{ name: 'direct-h2', port: upstreamPort, pid: undefined }, ...proxies], { closed: h2Client, open: h2Client });
    printRows(rows);
    writeResult('proxy-h2', figures(rows));
  } finally {
    for (const proxy of proxies) proxy.stop();
    upstream.close();
  }
}

async function main(): Promise<void> {
  execSync(`taskset -p -c 0 ${process.pid}`, { stdio: 'ignore' });
  const nginxPath = ensureNginx();
  const bundle = bundleInterceptor();
  console.log(`load average before: ${loadAverage()}`);
  await benchHttp1(nginxPath, bundle);
  console.log(`\nHTTP/2 (h2c prior knowledge in, h2c to the upstream; nginx: listen http2 + grpc_pass), load average: ${loadAverage()}`);
  await benchHttp2(nginxPath, bundle);
}

await main();
