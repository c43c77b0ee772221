// Right-sizing running pods at cluster scale, against a real control plane (the pieces shared with
// the controller benchmark are in cluster-bench.ts): 1,000 opted-in Deployments × 10 replicas
// (10,000 KWOK pods) whose requests are all out of range — every pod requests 50m / 64Mi while the
// stand-in agents report 400m / 300Mi for every pod — and the bundled controller as a real child
// process, its right-sizing round every second (EBB_USAGE_INTERVAL_MS=1000; 10 s by default). The
// recommendation is raise-only (a new workload's: ×2 doubt), so this also shows that a raise-only
// recommendation resizes. KWOK is the kubelet: it applies each resize
// (src/localcluster/kwok-stages.ts), judging every pod against its node's allocatable alone (a real
// node would defer the raises it has no room for: these add up to far more than the nodes hold).
// Requests are 50m rather than 100m so that 10,000 pods fit 19 nodes of 32 CPUs.
//
// Phase A, `ebb.dev/resize: in-place`: from the controller's start, the time until 50 %, 90 % and
// every pod has spec requests within the recommendation's bounds as published in each
// Deployment's ebb.dev/status (a watch on the pods and one on the Deployments), and the
// controller's tick (p50/p99/max) and RSS (peak) meanwhile. The policy sets
// `sizing.decreaseAfter: 168h`: at the default 1h the doubt factor falls by 1/60 a minute, so a
// request set a minute earlier is above the next minute's upper bound, which a raise-only
// recommendation rightly leaves alone; "within the bounds" would never reach 100 %.
// Phase B, `ebb.dev/resize: evict`: a second set of Deployments (20 × 10, on the 20th node),
// created with `resize: off` and switched to `evict` once phase A is over, evicted under
// `eviction.ratePerMinute` (30 here: one every 2 s). There is no webhook in this bench, so each
// replacement comes from the template, is out of range again and offered again: the manager never
// runs out of candidates, and the rate limit alone bounds what goes. Evictions counted per minute
// from the pods' deletion timestamps (minus their grace period: the time of the eviction, in whole
// seconds) and from the controller's ebb_evictions_total; also the most in any 60 s and the
// shortest gap.
// Run: node --import tsx test/bench/resize.ts   (the control-plane binaries must be built)
// Smaller runs: BENCH_WORKLOADS, BENCH_REPLICAS, BENCH_NODES, BENCH_EVICT_WORKLOADS,
// BENCH_EVICT_MINUTES, BENCH_EVICTION_RATE, BENCH_USAGE_INTERVAL_MS, BENCH_RESIZE_DEADLINE_MS.

import type { ChildProcess } from 'node:child_process';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, Watch, type KubeConfig, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION, STATUS_ANNOTATION } from '../../src/core/annotations.ts';
import { amountsOf, RESOURCES, type Amounts } from '../../src/core/pod-resources.ts';
import type { StatusRecommendation } from '../../src/core/recommendation.ts';
import { targetsFrom, type ContainerTargets } from '../../src/core/resize/targets.ts';
import { MAX_IN_FLIGHT } from '../../src/controller/resizer.ts';
import { workloadKey, type WorkloadKey } from '../../src/protocol/workload.ts';
import type { ControlPlane } from '../fixtures/control-plane.ts';
import { loadAverage, percentile, rssMB, sleep, writeResult } from './bench-support.ts';
import { benchNamespaces, createWorkloads, keyOf, NODES, REPLICAS, setting, startBenchControlPlane, stopClusterBench, WORKLOADS } from './cluster-bench.ts';
import { fixed, row, seconds, tableHeader, verdict } from './bench-table.ts';
import { controllerLeads, printControllerWarnings, scrape, seriesValue, startSampledController, stopController } from './bundled-controller.ts';
import { StandInAgentsProcess } from './stand-in-agents.ts';

const EVICT_WORKLOADS = setting('BENCH_EVICT_WORKLOADS', 20);
const EVICT_MINUTES = setting('BENCH_EVICT_MINUTES', 3);
const RATE_PER_MINUTE = setting('BENCH_EVICTION_RATE', 30);
/** The controller's right-sizing round (its EBB_USAGE_INTERVAL_MS; 10 s by default). */
const USAGE_INTERVAL_MS = setting('BENCH_USAGE_INTERVAL_MS', 1000);
/** Phase A ends here at the latest, whatever is right-sized by then. */
const RESIZE_DEADLINE_MS = setting('BENCH_RESIZE_DEADLINE_MS', 600_000);
const EVICT_NAMESPACE = 'bench-evict';
/** The label that tells the phases' Deployments and pods apart. */
const PHASE_LABEL = 'ebb-bench/phase';
/** The default target concurrency: 10 per pod keeps a workload at REPLICAS. */
const PER_POD_IN_FLIGHT = 10;
/** The pods may take this long to run; past it the bench goes on with what runs, and says so. */
const PODS_DEADLINE_MS = 360_000;
const REQUESTS = { cpu: '50m', memory: '64Mi' };
const USAGE = { cpuCores: 0.4, memoryBytes: 300 * 2 ** 20 };
const POLICY = `eviction:\n  ratePerMinute: ${RATE_PER_MINUTE}\nsizing:\n  decreaseAfter: 168h\n`;
const THRESHOLDS = [50, 90, 100] as const;
const TARGETS = { tickMs: 100, rssMB: 300 };
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

type Phase = 'in-place' | 'evict';

// No webhook runs here, and the templates say so as a template that opts out of injection does: the
// repair then leaves the pods alone (its probe, one pod evicted 10 min after the newest pod that
// missed the webhook, would count among the evictions, and its replacement would find no room);
// the scaler says once per workload that it cannot see the traffic (TrafficNotObserved) and keeps
// the replicas.
const NO_WEBHOOK = { [INJECTED_ANNOTATION]: JSON.stringify({ sidecar: 'none: no webhook runs in this bench' }) };

/**
 * Phase B's pods run on a node of their own: once phase A's raises are applied every other node
 * holds far more than its allocatable (KWOK allows it), and no replacement would be scheduled there.
 */
function deployment(namespace: string, name: string, phase: Phase, evictNode: string): V1Deployment {
  const labels = { app: name, [PHASE_LABEL]: phase };
  const placement = { key: 'metadata.name', operator: phase === 'evict' ? 'In' : 'NotIn', values: [evictNode] };
  return {
    metadata: { name, namespace, labels, annotations: { 'ebb.dev/resize': phase === 'in-place' ? 'in-place' : 'off' } },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels, annotations: NO_WEBHOOK },
        // Phase B's pods keep the default grace period, so that their deletion timestamps are seen.
        spec: {
          containers: [{ name: 'app', image: 'app:1', ports: [{ name: 'http', containerPort: 8080 }], resources: { requests: REQUESTS } }],
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [placement] }] } } },
          ...(phase === 'in-place' ? { terminationGracePeriodSeconds: 0 } : {}),
        },
      },
    },
  };
}

/** A watch that starts again when the API server ends it, until stopped (at most 20 times). */
function keepWatching<T>(kubeConfig: KubeConfig, path: string, labelSelector: string, onEvent: (type: string, object: T) => void): { stop(): void } {
  let stopped = false;
  let current: AbortController | undefined;
  let starts = 0;
  const again = () => void sleep(500).then(start);
  const start = async () => {
    if (stopped || ++starts > 20) return;
    current = await new Watch(kubeConfig).watch(path, { labelSelector }, onEvent, again).catch(() => (again(), undefined));
  };
  void start();
  return {
    stop() {
      stopped = true;
      current?.abort();
    },
  };
}

const keyOfObject = (object: V1Pod | V1Deployment) => workloadKey(object.metadata?.namespace ?? '', object.metadata?.labels?.app ?? '');

/** Phase A's pods and published bounds, from watches: how many pods have their app requests within the bounds. */
class RightSized {
  private readonly requests = new Map<string, { workload: WorkloadKey; amounts: Amounts }>();
  private readonly bounds = new Map<WorkloadKey, ContainerTargets>();
  /** Updates of the Deployments after their first sight: ebb's status writes (their pods neither come nor go). */
  deploymentUpdates = 0;
  private readonly watches: { stop(): void }[];

  constructor(kubeConfig: KubeConfig) {
    const selector = `${PHASE_LABEL}=in-place`;
    this.watches = [
      keepWatching<V1Pod>(kubeConfig, '/api/v1/pods', selector, (type, pod) => {
        const uid = pod.metadata?.uid ?? '';
        const app = pod.spec?.containers.find((container) => container.name === 'app');
        if (type === 'DELETED') this.requests.delete(uid);
        else this.requests.set(uid, { workload: keyOfObject(pod), amounts: amountsOf(app?.resources?.requests) });
      }),
      keepWatching<V1Deployment>(kubeConfig, '/apis/apps/v1/deployments', selector, (type, deployment) => {
        if (type === 'MODIFIED') this.deploymentUpdates++;
        const recommendation = (JSON.parse(deployment.metadata?.annotations?.[STATUS_ANNOTATION] ?? '{}') as { recommendation?: StatusRecommendation })
          .recommendation;
        const app = recommendation && targetsFrom(recommendation).get('app');
        if (app) this.bounds.set(keyOfObject(deployment), app);
      }),
    ];
  }

  get pods(): number {
    return this.requests.size;
  }

  /** Workloads with a published recommendation, and how many of them are raise-only. */
  recommendations(): { published: number; raiseOnly: number } {
    const all = [...this.bounds.values()];
    return { published: all.length, raiseOnly: all.filter((targets) => targets.raiseOnly).length };
  }

  count(): number {
    let within = 0;
    for (const { workload, amounts } of this.requests.values()) {
      const bounds = this.bounds.get(workload)?.resources;
      if (
        bounds &&
        RESOURCES.every(
          (resource) => amounts[resource] !== undefined && amounts[resource] >= bounds[resource].lower && amounts[resource] <= bounds[resource].upper,
        )
      )
        within++;
    }
    return within;
  }

  stop(): void {
    for (const watch of this.watches) watch.stop();
  }
}

interface PhaseA {
  /** From the controller's start; NaN when not reached. */
  reachedMs: Record<(typeof THRESHOLDS)[number], number>;
  rightSized: number;
  pods: number;
  endedMs: number;
  recommendations: { published: number; raiseOnly: number };
  deploymentUpdates: number;
}

/** Samples the right-sized count every second until every pod is, or the deadline. */
async function phaseA(controlPlane: ControlPlane, port: number, controllerStarted: number): Promise<PhaseA> {
  const tracker = new RightSized(controlPlane.kubeConfig);
  const reachedMs = { 50: NaN, 90: NaN, 100: NaN };
  let lastReport = Date.now();
  let rightSized = 0;
  try {
    while (Date.now() - controllerStarted < RESIZE_DEADLINE_MS) {
      rightSized = tracker.count();
      const share = (rightSized / (WORKLOADS * REPLICAS)) * 100;
      for (const threshold of THRESHOLDS) if (Number.isNaN(reachedMs[threshold]) && share >= threshold) reachedMs[threshold] = Date.now() - controllerStarted;
      if (share >= 100) break;
      if (Date.now() - lastReport >= 30_000) {
        lastReport = Date.now();
        const text = await scrape(port);
        const waiting = (state: string) => seriesValue(text, `ebb_resize_pods_waiting{state="${state}"}`) || 0;
        console.log(
          `  ${seconds(Date.now() - controllerStarted)} s: ${rightSized}/${tracker.pods} right-sized, ${waiting('in-flight')} in flight, ${waiting('queued')} queued; ` +
            `resizes written ${seriesValue(text, 'ebb_resizes_total{outcome="written"}') || 0} (load ${loadAverage()})`,
        );
      }
      await sleep(1000);
    }
    return {
      reachedMs,
      rightSized,
      pods: tracker.pods,
      endedMs: Date.now() - controllerStarted,
      recommendations: tracker.recommendations(),
      deploymentUpdates: tracker.deploymentUpdates,
    };
  } finally {
    tracker.stop();
  }
}

interface PhaseB {
  /** Evictions in each minute since the switch to `evict`: from the pods' deletion timestamps, from the controller's counter. */
  perMinute: number[];
  perMinuteCounter: number[];
  /** The most evictions whose times lie within any 60 s, and the shortest gap between two. */
  mostIn60s: number;
  shortestGapMs: number;
  evictions: number;
}

/** Switches the second set to `evict` and counts the evictions for EVICT_MINUTES minutes. */
async function phaseB(controlPlane: ControlPlane, port: number): Promise<PhaseB> {
  const apps = controlPlane.kubeConfig.makeApiClient(AppsV1Api);
  const evictedAt = new Map<string, number>();
  const watch = keepWatching<V1Pod>(controlPlane.kubeConfig, `/api/v1/namespaces/${EVICT_NAMESPACE}/pods`, `${PHASE_LABEL}=evict`, (_type, pod) => {
    const stamp = pod.metadata?.deletionTimestamp;
    const uid = pod.metadata?.uid ?? '';
    if (stamp && !evictedAt.has(uid)) evictedAt.set(uid, new Date(stamp).getTime() - (pod.metadata?.deletionGracePeriodSeconds ?? 0) * 1000);
  });
  const evicted = async () => seriesValue(await scrape(port), 'ebb_evictions_total{outcome="evicted"}') || 0;
  try {
    const counted = [await evicted()];
    const switchedAt = Date.now();
    for (let i = 0; i < EVICT_WORKLOADS; i++) {
      await apps.patchNamespacedDeployment(
        { name: `evict-${i}`, namespace: EVICT_NAMESPACE, body: { metadata: { annotations: { 'ebb.dev/resize': 'evict' } } } },
        MERGE_PATCH,
      );
    }
    console.log(
      `phase B: ${EVICT_WORKLOADS} Deployments switched to resize mode evict; counting evictions for ${EVICT_MINUTES} min (ratePerMinute ${RATE_PER_MINUTE})`,
    );
    for (let minute = 1; minute <= EVICT_MINUTES; minute++) {
      await sleep(switchedAt + minute * 60_000 - Date.now());
      counted.push(await evicted());
      const inMinute = [...evictedAt.values()].filter((at) => at >= switchedAt + (minute - 1) * 60_000 && at < switchedAt + minute * 60_000).length;
      console.log(
        `  minute ${minute}: ${inMinute} evictions by deletion timestamps, ${counted[minute]! - counted[minute - 1]!} by ebb_evictions_total (load ${loadAverage()})`,
      );
    }
    // The watch may trail the last minute's evictions by a moment.
    await sleep(2000);
    const times = [...evictedAt.values()].filter((at) => at >= switchedAt - 1000).sort((a, b) => a - b);
    const perMinute = Array.from(
      { length: EVICT_MINUTES },
      (_, m) => times.filter((at) => at >= switchedAt + m * 60_000 && at < switchedAt + (m + 1) * 60_000).length,
    );
    const gaps = times.slice(1).map((at, index) => at - times[index]!);
    return {
      perMinute,
      perMinuteCounter: counted.slice(1).map((value, index) => value - counted[index]!),
      mostIn60s: Math.max(0, ...times.map((at) => times.filter((other) => other >= at && other < at + 60_000).length)),
      shortestGapMs: gaps.length > 0 ? Math.min(...gaps) : NaN,
      evictions: times.length,
    };
  } finally {
    watch.stop();
  }
}

async function main(): Promise<void> {
  const inPlacePods = WORKLOADS * REPLICAS;
  const totalPods = inPlacePods + EVICT_WORKLOADS * REPLICAS;
  // Phase A's pods on every node but the last, phase B's on the last.
  const maxPodsPerNode = Math.max(110, Math.ceil((inPlacePods * 1.1) / (NODES - 1)));
  console.log(
    `control plane: ${NODES} KWOK nodes × ${maxPodsPerNode} pods; ${WORKLOADS} Deployments × ${REPLICAS} replicas in place, ${EVICT_WORKLOADS} × ${REPLICAS} to evict ` +
      `(load ${loadAverage()})`,
  );
  const benchStarted = Date.now();
  const controlPlane = await startBenchControlPlane(NODES, maxPodsPerNode);
  const inPlaceKeys = Array.from({ length: WORKLOADS }, (_, i) => keyOf(i));
  const evictKeys = Array.from({ length: EVICT_WORKLOADS }, (_, i) => workloadKey(EVICT_NAMESPACE, `evict-${i}`));
  const agent = await StandInAgentsProcess.start([...inPlaceKeys, ...evictKeys], {
    replicas: REPLICAS,
    nodes: NODES,
    perPodInFlight: PER_POD_IN_FLIGHT,
    usage: [{ container: 'app', ...USAGE }],
  });
  let controller: ChildProcess | undefined;
  try {
    const namespaces = [...benchNamespaces(), EVICT_NAMESPACE];
    const evictNode = controlPlane.nodeNames.at(-1)!;
    const deployments = [
      ...inPlaceKeys.map((key) => deployment(key.split('/')[0]!, key.split('/')[1]!, 'in-place', evictNode)),
      ...evictKeys.map((key) => deployment(EVICT_NAMESPACE, key.split('/')[1]!, 'evict', evictNode)),
    ];
    const pods = await createWorkloads(controlPlane, namespaces, deployments, totalPods, PODS_DEADLINE_MS);
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'ebb-system', body: { metadata: { name: 'ebb-policy' }, data: { 'policy.yaml': POLICY } } });
    const {
      started,
      startedAt: controllerStarted,
      sampler,
    } = await startSampledController(controlPlane, agent, { EBB_USAGE_INTERVAL_MS: String(USAGE_INTERVAL_MS) });
    controller = started.child;
    const { port } = started;
    sampler.record();
    await controllerLeads(port);
    console.log(
      `phase A: controller leading after ${seconds(Date.now() - controllerStarted)} s; waiting until every pod is right-sized in place (at most ${seconds(RESIZE_DEADLINE_MS)} s)`,
    );
    const a = await phaseA(controlPlane, port, controllerStarted);
    const ticksA = [...sampler.ticksMs].sort((x, y) => x - y);
    const rssPeakA = sampler.peakRssMB;
    const textA = await scrape(port);
    const resizes = (outcome: string) => seriesValue(textA, `ebb_resizes_total{outcome="${outcome}"}`) || 0;

    const b = await phaseB(controlPlane, port);
    await sampler.stop();
    const rss = rssMB(controller.pid!);
    printControllerWarnings(started);
    await stopController(controller);

    const floorMs = (inPlacePods / MAX_IN_FLIGHT) * USAGE_INTERVAL_MS;
    const figures = {
      workloads: WORKLOADS,
      pods: inPlacePods,
      pods_ready: pods.readyReplicas,
      pods_wanted: totalPods,
      nodes: NODES,
      usage_interval_ms: USAGE_INTERVAL_MS,
      pods_running_s: pods.runningMs / 1000,
      recommendations: a.recommendations.published,
      recommendations_raise_only: a.recommendations.raiseOnly,
      status_writes: a.deploymentUpdates,
      right_sized: a.rightSized,
      right_sized_50_s: a.reachedMs[50] / 1000,
      right_sized_90_s: a.reachedMs[90] / 1000,
      right_sized_100_s: a.reachedMs[100] / 1000,
      phase_a_s: a.endedMs / 1000,
      in_flight_floor_s: floorMs / 1000,
      resizes_written: resizes('written'),
      resizes_applied: resizes('applied'),
      resizes_conflict: resizes('conflict'),
      resizes_per_s: resizes('written') / (a.endedMs / 1000),
      tick_p50_ms: percentile(ticksA, 50),
      tick_p99_ms: percentile(ticksA, 99),
      tick_max_ms: ticksA.at(-1) ?? NaN,
      ticks_sampled: ticksA.length,
      rss_peak_a_mb: rssPeakA,
      rss_peak_mb: Math.max(sampler.peakRssMB, rss.rss),
      rss_hwm_mb: rss.peak,
      evict_workloads: EVICT_WORKLOADS,
      rate_per_minute: RATE_PER_MINUTE,
      evictions: b.evictions,
      evictions_per_minute: b.perMinute.join('/'),
      evictions_per_minute_counter: b.perMinuteCounter.join('/'),
      evictions_max_minute: Math.max(...b.perMinute, ...b.perMinuteCounter),
      evictions_most_in_60s: b.mostIn60s,
      eviction_gap_min_ms: b.shortestGapMs,
      bench_s: (Date.now() - benchStarted) / 1000,
      load: loadAverage(),
    };
    const reached = (threshold: (typeof THRESHOLDS)[number]) => (Number.isNaN(a.reachedMs[threshold]) ? 'not reached' : `${seconds(a.reachedMs[threshold])} s`);
    console.log(`
${tableHeader}
${row('pods ready / wanted (in place + evict)', `${pods.readyReplicas} / ${totalPods}`)}
${row('A: recommendations published, raise-only', `${a.recommendations.published}, ${a.recommendations.raiseOnly}`)}
${row('A: status writes (Deployment updates seen), per workload', `${a.deploymentUpdates}, ${fixed(a.deploymentUpdates / WORKLOADS)}`)}
${row('A: right-sized 50 % / 90 % / 100 % (from controller start)', `${reached(50)} / ${reached(90)} / ${reached(100)}`)}
${row(`A: right-sized at the end (${seconds(a.endedMs)} s)`, `${a.rightSized} / ${a.pods}`)}
${row(`A: floor: ${inPlacePods} pods / ${MAX_IN_FLIGHT} in flight × ${USAGE_INTERVAL_MS} ms round`, `${seconds(floorMs)} s`)}
${row('A: resizes written / applied / conflicts, written per s', `${figures.resizes_written} / ${figures.resizes_applied} / ${figures.resizes_conflict}, ${fixed(figures.resizes_per_s)}`)}
${row(`A: tick p50 / p99 / max (${ticksA.length} sampled)`, `${fixed(figures.tick_p50_ms)} / ${fixed(figures.tick_p99_ms)} / ${fixed(figures.tick_max_ms)} ms`, `≤ ${TARGETS.tickMs} ms`, verdict(figures.tick_p99_ms, TARGETS.tickMs))}
${row('A: controller RSS peak', `${fixed(rssPeakA)} MB`, `≤ ${TARGETS.rssMB} MB`, verdict(rssPeakA, TARGETS.rssMB))}
${row('B: evictions per minute (deletion timestamps)', figures.evictions_per_minute, `≤ ${RATE_PER_MINUTE}`, verdict(Math.max(...b.perMinute), RATE_PER_MINUTE))}
${row('B: evictions per minute (ebb_evictions_total)', figures.evictions_per_minute_counter, `≤ ${RATE_PER_MINUTE}`, verdict(Math.max(...b.perMinuteCounter), RATE_PER_MINUTE))}
${row('B: most in any 60 s, shortest gap', `${b.mostIn60s}, ${fixed(b.shortestGapMs / 1000)} s`, `≤ ${RATE_PER_MINUTE}, ≥ ${fixed(60 / RATE_PER_MINUTE)} s`, verdict(b.mostIn60s, RATE_PER_MINUTE))}
${row('controller RSS peak over both phases (VmRSS / VmHWM)', `${fixed(figures.rss_peak_mb)} / ${fixed(rss.peak)} MB`)}
load average ${loadAverage()}; the agents are the one stand-in (every pod at 400m / 300Mi, from a process of their own); KWOK applies the resizes
`);
    writeResult('resize', figures);
  } finally {
    await stopClusterBench(controller, agent, controlPlane);
  }
}

await main();
