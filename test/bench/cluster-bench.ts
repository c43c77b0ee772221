// Shared by the benchmarks that run the controller at cluster scale (controller.ts, resize.ts): a
// real control plane with KWOK nodes tuned for thousands of pods, and Deployments created and
// waited for. The controller they run is in bundled-controller.ts, the agents' stand-in in
// stand-in-agents.ts, the table they print in bench-table.ts.

import type { ChildProcess } from 'node:child_process';
import https from 'node:https';
import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { INJECTION_LABEL } from '../../src/core/annotations.ts';
import { parsePrometheusText } from '../../src/core/usage/prometheus-text.ts';
import { workloadKey } from '../../src/protocol/workload.ts';
import { eventually, startControlPlane, type ControlPlane } from '../fixtures/control-plane.ts';
import { loadAverage, sleep } from './bench-support.ts';
import { seconds } from './bench-table.ts';
import { stopController } from './bundled-controller.ts';
import type { StandInAgentsProcess } from './stand-in-agents.ts';

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

/** A bench's end, whatever happened: the controller, the stand-in agents, then the control plane. */
export async function stopClusterBench(controller: ChildProcess | undefined, agent: StandInAgentsProcess, controlPlane: ControlPlane): Promise<void> {
  await stopController(controller);
  await agent.close();
  await controlPlane.stop();
}

/** Verbs that write. */
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION']);

/**
 * The API server's writes so far (its apiserver_request_total), by `VERB resource[/subresource]`:
 * what ebb makes the whole control plane do, the Deployment controller's echoes of its writes
 * included. Compare two readings with writesBetween.
 */
export async function apiServerWrites(controlPlane: ControlPlane): Promise<Map<string, number>> {
  const options: https.RequestOptions = {};
  await controlPlane.kubeConfig.applyToHTTPSOptions(options);
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(`${controlPlane.server}/metrics`, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  const writes = new Map<string, number>();
  for (const { name, labels, value } of parsePrometheusText(text).samples) {
    if (name !== 'apiserver_request_total' || !WRITE_VERBS.has(labels.verb ?? '')) continue;
    const kind = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
    writes.set(kind, (writes.get(kind) ?? 0) + value);
  }
  return writes;
}

/** The writes between two readings of apiServerWrites, most first. */
export function writesBetween(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): [kind: string, count: number][] {
  return [...after]
    .map(([kind, count]): [string, number] => [kind, count - (before.get(kind) ?? 0)])
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1]);
}
