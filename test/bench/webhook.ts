// Webhook benchmark, against a real control plane (so the webhook's informer caches are real).
//   (a) reviews/s: the webhook program (webhook/main.ts) pinned to core 1 under closed-loop load,
//       and p50/p99 latency at a fixed 1,000 reviews/s (open loop, latency from the scheduled
//       send time), for a ~6 KB pod AdmissionReview built from what the API server really sends;
//       side by side with the floor, a bare Node HTTPS server (also on core 1) that returns the
//       webhook's own answer to that review. The load generator is this process, on core 0, over
//       keep-alive TLS connections with pre-serialized requests.
//   (b) pod-create latency through the API server with no webhook, with the floor registered and
//       with the webhook registered: sequential creates in alternating rounds, pods deleted between
//       rounds, and the API server's own measure of its calls to the registered one.
// Targets: ≥ 3,000 reviews/s per core, ≥ 0.8× the floor, p99 ≤ 2 ms at 1,000/s,
// pod-create p99 with the webhook ≤ 1.1× without.
// Run: node --import tsx test/bench/webhook.ts   (the control-plane binaries must be built)

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, type TLSSocket } from 'node:tls';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import { createWebhookCertificates, writeWebhookCertificates } from '../../certs/webhook-certificates.ts';
import { INJECTED_ANNOTATION, INJECTION_LABEL } from '../../src/core/annotations.ts';
import { locateAssets } from '../../src/localcluster/assets.ts';
import { startControlPlane, eventually, type ControlPlane } from '../fixtures/control-plane.ts';
import { dryRunCreate, startWebhook, WEBHOOK_CONFIGURATION_NAME, webhookConfiguration } from '../fixtures/webhook.ts';
import { deployment } from '../fixtures/deployments.ts';
import { cpuSeconds, loadAverage, percentile, writeResult } from './bench-support.ts';

const RATE_MS = 4_000;
const LATENCY_MS = 4_000;
const FIXED_RATE = 1_000;
/** The API server keeps a handful of connections to a webhook; closed-loop load uses as many. */
const CONNECTIONS = 8;
/** No loop runs longer than its duration nor sends more than this. */
const MAX_REQUESTS = 200_000;
const POD_CREATE_ROUNDS = 3;
const POD_CREATES_PER_ROUND = 100;
const NAMESPACE = 'bench';
const TARGET_REVIEW_BYTES = 6 * 1024;

interface Target {
  name: string;
  port: number;
  caPem: string;
  pid: number;
}

/** One keep-alive TLS connection sending one request at a time and reading the whole response. */
class ReviewConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { resolve: () => void; reject: (error: Error) => void } | undefined;

  private constructor(private readonly socket: TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static open(target: Target): Promise<ReviewConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: target.port, ca: target.caPem }, () => resolve(new ReviewConnection(socket)));
      socket.once('error', reject);
    });
  }

  send(request: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const headerEnd = this.buffer.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    const head = this.buffer.subarray(0, headerEnd).toString('latin1');
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
    if (length === undefined) return this.fail(new Error(`a response without Content-Length: ${head}`));
    if (this.buffer.length < headerEnd + 4 + Number(length)) return;
    this.buffer = Buffer.alloc(0);
    const waiting = this.waiting;
    this.waiting = undefined;
    if (head.startsWith('HTTP/1.1 200')) waiting?.resolve();
    else waiting?.reject(new Error(`unexpected response: ${head.split('\r\n')[0]}`));
  }

  private fail(error: Error): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }
}

const openConnections = (target: Target) => Promise.all(Array.from({ length: CONNECTIONS }, () => ReviewConnection.open(target)));

function httpRequest(port: number, body: Buffer): Buffer {
  const head = `POST /mutate?timeout=5s HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/json, */*\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Reviews per second with every connection busy all the time, and the target's CPU per review. */
async function closedLoop(target: Target, request: Buffer, durationMs: number): Promise<{ perSecond: number; perCpuSecond: number }> {
  const connections = await openConnections(target);
  const cpuBefore = cpuSeconds(target.pid);
  const started = performance.now();
  const deadline = started + durationMs;
  let answered = 0;
  await Promise.all(
    connections.map(async (connection) => {
      while (performance.now() < deadline && answered < MAX_REQUESTS) {
        await connection.send(request);
        answered++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(target.pid) - cpuBefore;
  for (const connection of connections) connection.close();
  return { perSecond: answered / seconds, perCpuSecond: answered / cpu };
}

interface Latencies {
  /** From the moment each request was due: what a caller sees, the generator's own lateness included. */
  fromDue: number[];
  /** From the moment it was written: the server's part. */
  fromSend: number[];
}

/** Latencies (ms, sorted) at a fixed rate. */
async function openLoop(target: Target, request: Buffer, rate: number, durationMs: number): Promise<Latencies> {
  const idle = await openConnections(target);
  const all = [...idle];
  const total = Math.min(MAX_REQUESTS, Math.floor((rate * durationMs) / 1000));
  const latencies: number[] = [];
  const fromSend: number[] = [];
  const due: number[] = [];
  const started = performance.now();
  let scheduled = 0;
  await new Promise<void>((resolve, reject) => {
    const dispatch = () => {
      while (due.length > 0 && idle.length > 0) {
        const connection = idle.pop()!;
        const dueAt = due.shift()!;
        const sentAt = performance.now();
        connection.send(request).then(() => {
          const now = performance.now();
          latencies.push(now - dueAt);
          fromSend.push(now - sentAt);
          idle.push(connection);
          if (latencies.length === total) resolve();
          else dispatch();
        }, reject);
      }
    };
    const tick = () => {
      const now = performance.now();
      while (scheduled < total && started + (scheduled * 1000) / rate <= now) due.push(started + (scheduled++ * 1000) / rate);
      dispatch();
      if (scheduled < total) setTimeout(tick, 1);
    };
    tick();
  });
  for (const connection of all) connection.close();
  const sorted = (values: number[]) => values.sort((a, b) => a - b);
  return { fromDue: sorted(latencies), fromSend: sorted(fromSend) };
}

/**
 * The floor: a bare Node HTTPS server that reads the request and answers with canned bytes (the
 * webhook's own answer). It echoes the request's uid without parsing the JSON (the API server
 * refuses an answer for another uid), so it can stand in for the webhook in the pod-create test too.
 */
const UID_PLACEHOLDER = '@@uid@@';
const FLOOR_SCRIPT = `
const fs = require('node:fs');
const https = require('node:https');
const [before, after] = fs.readFileSync(process.env.FLOOR_ANSWER, 'utf8').split('${UID_PLACEHOLDER}');
const server = https.createServer({ cert: fs.readFileSync(process.env.FLOOR_CERT), key: fs.readFileSync(process.env.FLOOR_KEY), minVersion: 'TLSv1.2' }, (req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const head = Buffer.concat(chunks).toString('latin1', 0, 300);
    const answer = before + /"uid":"([^"]*)"/.exec(head)[1] + after;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) });
    res.end(answer);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function startFloor(dir: string, answer: Buffer): Promise<{ target: Target; child: ChildProcess }> {
  const certificates = createWebhookCertificates({ service: 'floor', namespace: NAMESPACE });
  const paths = await writeWebhookCertificates(join(dir, 'floor'), certificates);
  const review = JSON.parse(answer.toString('utf8')) as { response: { uid: string } };
  writeFileSync(join(dir, 'answer.json'), answer.toString('utf8').replace(JSON.stringify(review.response.uid), JSON.stringify(UID_PLACEHOLDER)));
  const child = spawn('taskset', ['-c', '1', process.execPath, '-e', FLOOR_SCRIPT], {
    env: { ...process.env, FLOOR_ANSWER: join(dir, 'answer.json'), FLOOR_CERT: paths.cert, FLOOR_KEY: paths.key },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  // taskset execs node in place, so the child's pid is node's.
  return { target: { name: 'floor', port: Number(line), caPem: certificates.ca.certPem, pid: child.pid! }, child };
}

/** A pod as its ReplicaSet would create it, with the env, probes and mounts real apps carry. */
function appPod(replicaSet: V1ReplicaSet, envCount: number): V1Pod {
  const hash = replicaSet.metadata!.labels!['pod-template-hash']!;
  const template = replicaSet.spec!.template!;
  const app = template.spec!.containers[0]!;
  return {
    metadata: {
      generateName: `${replicaSet.metadata!.name}-`,
      namespace: NAMESPACE,
      labels: { ...template.metadata!.labels, 'pod-template-hash': hash, 'app.kubernetes.io/version': '1.42.0', team: 'checkout' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T08:00:00Z', 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: replicaSet.metadata!.name!,
          uid: replicaSet.metadata!.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      ...template.spec,
      containers: [
        {
          ...app,
          env: Array.from({ length: envCount }, (_, i) => ({ name: `APP_SETTING_${i}`, value: `value-of-setting-${i}-for-the-checkout-service` })),
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
          livenessProbe: { httpGet: { path: '/live', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
          volumeMounts: [{ name: 'config', mountPath: '/etc/app', readOnly: true }],
          resources: { limits: { memory: '512Mi' } },
        },
      ],
      volumes: [{ name: 'config', configMap: { name: 'checkout-config' } }],
    },
  };
}

/**
 * A ~6 KB AdmissionReview for a pod as the webhook receives it: the pod after the API server's
 * defaulting and built-in admission (taken from a dry-run create), before it has a name.
 */
async function realisticReview(controlPlane: ControlPlane, replicaSet: V1ReplicaSet): Promise<Buffer> {
  let envCount = 10;
  for (;;) {
    const pod = await dryRunCreate(controlPlane.kubeConfig, appPod(replicaSet, envCount));
    const { name: _name, uid: _uid, resourceVersion: _version, creationTimestamp: _created, ...metadata } = pod.metadata!;
    const review = Buffer.from(
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          requestKind: { group: '', version: 'v1', kind: 'Pod' },
          requestResource: { group: '', version: 'v1', resource: 'pods' },
          namespace: NAMESPACE,
          operation: 'CREATE',
          userInfo: {
            username: 'system:serviceaccount:kube-system:replicaset-controller',
            uid: 'b7d1c0de-0000-4000-8000-000000000001',
            groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
          },
          object: { apiVersion: 'v1', kind: 'Pod', ...pod, metadata },
          oldObject: null,
          dryRun: false,
          options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
        },
      }),
    );
    if (review.length >= TARGET_REVIEW_BYTES) return review;
    envCount += Math.ceil((TARGET_REVIEW_BYTES - review.length) / 70);
  }
}

/** The answer the target gives (asserted to be an injection), so the floor can give the same bytes. */
async function answerOf(target: Target, request: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: target.port, ca: target.caPem }, () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('utf8');
      const headerEnd = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: *(\d+)/i.exec(text)?.[1]);
      if (headerEnd >= 0 && Buffer.byteLength(text) >= headerEnd + 4 + length) {
        socket.destroy();
        resolve();
      }
    });
    socket.on('error', reject);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  const review = JSON.parse(body) as { response?: { patch?: string } };
  if (!review.response?.patch) throw new Error(`the webhook did not inject the benchmark pod: ${body}`);
  return Buffer.from(body);
}

/** Sequential creates; each stored pod is checked to be injected exactly when a webhook is registered. */
async function podCreateLatencies(core: CoreV1Api, pod: V1Pod, count: number, injected: boolean): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const created = await core.createNamespacedPod({ namespace: NAMESPACE, body: pod });
    latencies.push(performance.now() - started);
    if ((created.metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined) !== injected) {
      throw new Error(`pod ${created.metadata?.name} was ${injected ? 'not ' : ''}injected`);
    }
  }
  return latencies;
}

async function deleteBenchPods(core: CoreV1Api): Promise<void> {
  await core.deleteCollectionNamespacedPod({ namespace: NAMESPACE, labelSelector: 'bench=create', gracePeriodSeconds: 0 });
  await eventually('the benchmark pods deleted', async () =>
    (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'bench=create' })).items.length === 0 ? true : undefined,
  );
}

/** The API server's own histogram of its calls to the webhook: total seconds and calls so far. */
function apiServerWebhookCalls(controlPlane: ControlPlane): { seconds: number; calls: number } {
  const metrics = execFileSync(locateAssets().kubectl, ['--kubeconfig', controlPlane.kubeconfigPath, 'get', '--raw', '/metrics'], {
    maxBuffer: 64 * 2 ** 20,
  }).toString();
  const value = (series: string) =>
    Number(
      new RegExp(`^apiserver_admission_webhook_admission_duration_seconds_${series}\\{[^}]*name="pods\\.webhook\\.ebb\\.dev"[^}]*\\} (\\S+)$`, 'm').exec(
        metrics,
      )?.[1] ?? 0,
    );
  return { seconds: value('sum'), calls: value('count') };
}

/**
 * Points the MutatingWebhookConfiguration at `target` (none: deletes it) and waits until the API
 * server does what it says: a dry-run of `pod` comes back injected exactly when there is a target.
 */
async function routeWebhookTo(controlPlane: ControlPlane, target: Target | undefined, pod: V1Pod): Promise<void> {
  const admission = controlPlane.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  await admission.deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }).catch((error: unknown) => {
    if ((error as { code?: number }).code !== 404) throw error;
  });
  const injected = async () => (await dryRunCreate(controlPlane.kubeConfig, pod)).metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined;
  await eventually('the API server without a webhook', async () => ((await injected()) ? undefined : true));
  if (!target) return;
  await admission.createMutatingWebhookConfiguration({ body: webhookConfiguration(target.port, target.caPem) });
  await eventually(`the API server calling the ${target.name}`, async () => ((await injected()) ? true : undefined));
}

interface CreateFigures {
  latencies: number[];
  /** The API server's own mean time per call to the webhook, ms (NaN without one). */
  callMeanMs: number;
}

/** Pod creates through the API server without a webhook, with the floor, and with the webhook, in alternating rounds. */
async function podCreates(
  controlPlane: ControlPlane,
  pod: V1Pod,
  targets: { floor: Target; webhook: Target },
): Promise<Record<'none' | 'floor' | 'webhook', CreateFigures>> {
  const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const modes = ['none', 'floor', 'webhook'] as const;
  const latencies = { none: [] as number[], floor: [] as number[], webhook: [] as number[] };
  const calls = { none: { seconds: 0, calls: 0 }, floor: { seconds: 0, calls: 0 }, webhook: { seconds: 0, calls: 0 } };
  for (let round = 0; round < POD_CREATE_ROUNDS; round++) {
    for (const mode of modes) {
      const target = mode === 'none' ? undefined : targets[mode];
      await routeWebhookTo(controlPlane, target, pod);
      await podCreateLatencies(core, pod, 10, target !== undefined); // warm-up: the API server's connection to the target
      const before = apiServerWebhookCalls(controlPlane);
      latencies[mode].push(...(await podCreateLatencies(core, pod, POD_CREATES_PER_ROUND, target !== undefined)));
      const after = apiServerWebhookCalls(controlPlane);
      calls[mode].seconds += after.seconds - before.seconds;
      calls[mode].calls += after.calls - before.calls;
      await deleteBenchPods(core);
    }
  }
  await routeWebhookTo(controlPlane, undefined, pod);
  const figures = (mode: (typeof modes)[number]): CreateFigures => ({
    latencies: latencies[mode].sort((a, b) => a - b),
    callMeanMs: (calls[mode].seconds / calls[mode].calls) * 1000,
  });
  return { none: figures('none'), floor: figures('floor'), webhook: figures('webhook') };
}

const ms = (value: number) => Number(value.toFixed(3));

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const dir = mkdtempSync(join(tmpdir(), 'ebb-bench-webhook-'));
  const controlPlane = await startControlPlane({ nodes: 1 });
  const children: ChildProcess[] = [];
  try {
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const apps = controlPlane.kubeConfig.makeApiClient(AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE, labels: { [INJECTION_LABEL]: 'enabled' } } } });
    await apps.createNamespacedDeployment({ namespace: NAMESPACE, body: deployment(NAMESPACE, 'checkout', { replicas: 0 }) });
    const replicaSet = await eventually('the checkout ReplicaSet', async () => (await apps.listNamespacedReplicaSet({ namespace: NAMESPACE })).items[0]);
    await eventually('the default service account', async () =>
      (await core.listNamespacedServiceAccount({ namespace: NAMESPACE })).items.length > 0 ? true : undefined,
    );

    const webhook = await startWebhook(controlPlane, { register: false, cpus: '1' });
    try {
      // The load generator on core 0 (all its threads); the webhook and the floor run on core 1.
      execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
      const review = await realisticReview(controlPlane, replicaSet);
      const webhookTarget: Target = { name: 'webhook', port: webhook.port, caPem: webhook.caPem, pid: webhook.pid()! };
      const answer = await answerOf(webhookTarget, httpRequest(webhook.port, review));
      const floor = await startFloor(dir, answer);
      children.push(floor.child);

      const rates: Record<string, { perSecond: number; perCpuSecond: number; p50: number; p99: number; p99FromSend: number }> = {};
      for (const target of [webhookTarget, floor.target]) {
        const request = httpRequest(target.port, review);
        await closedLoop(target, request, 500); // warm-up: JIT, TLS sessions
        const rate = await closedLoop(target, request, RATE_MS);
        const latencies = await openLoop(target, request, FIXED_RATE, LATENCY_MS);
        rates[target.name] = {
          ...rate,
          p50: percentile(latencies.fromDue, 50),
          p99: percentile(latencies.fromDue, 99),
          p99FromSend: percentile(latencies.fromSend, 99),
        };
      }

      // (b) Pod creates through the API server.
      const pod = appPod(replicaSet, 20);
      // Another hash than the checkout ReplicaSet's: it must not count these pods as its own and delete them.
      pod.metadata!.labels = { ...pod.metadata!.labels, bench: 'create', 'pod-template-hash': 'bench0000' };
      const creates = await podCreates(controlPlane, pod, { floor: floor.target, webhook: webhookTarget });

      const w = rates.webhook!;
      const f = rates.floor!;
      const figures = {
        review_bytes: review.length,
        webhook_reviews_per_s: Math.round(w.perSecond),
        webhook_reviews_per_cpu_s: Math.round(w.perCpuSecond),
        floor_reviews_per_s: Math.round(f.perSecond),
        floor_reviews_per_cpu_s: Math.round(f.perCpuSecond),
        ratio_to_floor: Number((w.perSecond / f.perSecond).toFixed(3)),
        ratio_to_floor_per_cpu_s: Number((w.perCpuSecond / f.perCpuSecond).toFixed(3)),
        webhook_p50_ms_at_1000: ms(w.p50),
        webhook_p99_ms_at_1000: ms(w.p99),
        webhook_p99_ms_from_send: ms(w.p99FromSend),
        floor_p50_ms_at_1000: ms(f.p50),
        floor_p99_ms_at_1000: ms(f.p99),
        floor_p99_ms_from_send: ms(f.p99FromSend),
        pod_creates_each: creates.webhook.latencies.length,
        create_p50_ms_without: ms(percentile(creates.none.latencies, 50)),
        create_p99_ms_without: ms(percentile(creates.none.latencies, 99)),
        create_p50_ms_floor: ms(percentile(creates.floor.latencies, 50)),
        create_p99_ms_floor: ms(percentile(creates.floor.latencies, 99)),
        create_p50_ms_with: ms(percentile(creates.webhook.latencies, 50)),
        create_p99_ms_with: ms(percentile(creates.webhook.latencies, 99)),
        apiserver_call_mean_ms_floor: ms(creates.floor.callMeanMs),
        apiserver_call_mean_ms_webhook: ms(creates.webhook.callMeanMs),
        create_p99_ratio: Number((percentile(creates.webhook.latencies, 99) / percentile(creates.none.latencies, 99)).toFixed(3)),
        create_p99_ratio_floor: Number((percentile(creates.floor.latencies, 99) / percentile(creates.none.latencies, 99)).toFixed(3)),
        load_before: loadBefore,
        load_after: loadAverage(),
      };
      console.table({
        webhook: {
          'reviews/s (1 core)': figures.webhook_reviews_per_s,
          'reviews/CPU-s': figures.webhook_reviews_per_cpu_s,
          'p50 ms @1000/s': figures.webhook_p50_ms_at_1000,
          'p99 ms @1000/s': figures.webhook_p99_ms_at_1000,
          'p99 ms from send': figures.webhook_p99_ms_from_send,
        },
        floor: {
          'reviews/s (1 core)': figures.floor_reviews_per_s,
          'reviews/CPU-s': figures.floor_reviews_per_cpu_s,
          'p50 ms @1000/s': figures.floor_p50_ms_at_1000,
          'p99 ms @1000/s': figures.floor_p99_ms_at_1000,
          'p99 ms from send': figures.floor_p99_ms_from_send,
        },
      });
      console.table({
        'pod create, no webhook': { 'p50 ms': figures.create_p50_ms_without, 'p99 ms': figures.create_p99_ms_without, 'API server ms per call': '-' },
        'pod create, floor registered': {
          'p50 ms': figures.create_p50_ms_floor,
          'p99 ms': figures.create_p99_ms_floor,
          'API server ms per call': figures.apiserver_call_mean_ms_floor,
        },
        'pod create, webhook registered': {
          'p50 ms': figures.create_p50_ms_with,
          'p99 ms': figures.create_p99_ms_with,
          'API server ms per call': figures.apiserver_call_mean_ms_webhook,
        },
      });
      const checks = {
        '≥ 3,000 reviews/s per core': figures.webhook_reviews_per_s >= 3_000,
        '≥ 0.8× the floor': figures.ratio_to_floor >= 0.8,
        'p99 ≤ 2 ms at 1,000/s': figures.webhook_p99_ms_at_1000 <= 2,
        'pod-create p99 with ≤ 1.1× without': figures.create_p99_ratio <= 1.1,
      };
      for (const [target, met] of Object.entries(checks)) console.log(`${met ? 'met   ' : 'MISSED'} ${target}`);
      writeResult('webhook', { ...figures, targets_met: Object.values(checks).every(Boolean) });
    } finally {
      for (const child of children) child.kill('SIGKILL');
      await webhook.stop();
    }
  } finally {
    await controlPlane.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
