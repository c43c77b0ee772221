// Controller benchmark at cluster scale, against a real control plane: 1,000 opted-in Deployments
// with 10 replicas each (10,000 pods, created by the real ReplicaSet controller, bound by the real
// scheduler to 20 KWOK nodes and run by KWOK), and the controller (src/controller/main.ts) as a
// real child process with its real informers, decisions and scale writes, run from an esbuild
// bundle as the image runs it (through tsx its RSS is ~110 MB higher: the loader and TypeScript).
// The one stand-in is the agents, in a process of their own: one HTTP server per node (the DaemonSet runs one
// agent per node) answers GET /activity with a valid ActivityReport for the pods on its node (10
// pods per workload spread over the nodes, 10 per pod in flight against the default target of
// 10, so every workload holds at 10 replicas), and GET /usage with a UsageReport of those pods'
// two containers (a new kubelet sample every 10 s, as the agents scrape), checking the
// controller's bearer token. So the recommender, its status writes and its checkpoints run too.
// Measured:
//   - the API server's writes in the window, from every client (its apiserver_request_total): what
//     ebb makes the control plane do, the Deployment controller's echoes of its status writes included;
//   - time per tick: the controller's ebb_controller_tick_duration_seconds histogram (mean over the
//     steady window) and its last-tick gauges polled every 500 ms (each tick once: p50/p99/max,
//     over the steady window and the reaction trials), each tick also in two parts: pulling the
//     agents' activity, and the rest (deciding, scaling, routing);
//   - the controller's CPU per tick interval (all its threads), and its main thread's time on a CPU
//     and waiting for one (schedstat): what a tick costs, and what the shared machine adds to it;
//   - the controller's RSS (VmRSS every 500 ms, peak; VmHWM at the end);
//   - reaction: at T one workload's in-flight rises from 100 to 150 in the agents' reports; a watch
//     on that Deployment sees spec.replicas change; reaction = event time − T. Repeated on different
//     workloads, each at a random phase of the tick. A step like this moves the stable window, and
//     the next tick scales;
//   - burst reaction: the same with a rise from 100 to 300, which the agents tell the controller of
//     at their next round (GET /activity/rises), and which it decides on in a tick run at once.
// Targets: tick ≤ 100 ms, RSS ≤ 300 MB with usage collection and the recommender on, reaction ≤ 2 s.
// Run: node --import tsx test/bench/controller.ts   (the control-plane binaries must be built)
// Smaller runs: BENCH_WORKLOADS, BENCH_REPLICAS, BENCH_NODES, BENCH_STEADY_MS.

import type { ChildProcess } from 'node:child_process';
import { Watch, type V1Deployment } from '@kubernetes/client-node';
import type { ControlPlane } from '../fixtures/control-plane.ts';
import { sumSeries } from '../fixtures/metrics.ts';
import { cpuSeconds, loadAverage, percentile, rssMB, sleep, threadSchedMs, writeResult } from './bench-support.ts';
import {
  apiServerWrites,
  benchNamespaces,
  createWorkloads,
  keyOf,
  nameOf,
  namespaceOf,
  NAMESPACES,
  NODES,
  REPLICAS,
  setting,
  startBenchControlPlane,
  stopClusterBench,
  WORKLOADS,
  writesBetween,
} from './cluster-bench.ts';
import { fixed, row, seconds, tableHeader, verdict } from './bench-table.ts';
import {
  controllerLeads,
  metricCount,
  metricValue,
  printControllerWarnings,
  scrape,
  seriesValue,
  startSampledController,
  stopController,
  tickHistogram,
} from './bundled-controller.ts';
import { StandInAgentsProcess } from './stand-in-agents.ts';

/** How long ticks are measured once the controller has settled. */
const STEADY_MS = setting('BENCH_STEADY_MS', 90_000);
const TICK_MS = 2000;
const REACTION_TRIALS = 5;
/** The default target concurrency: 10 per pod keeps a workload at REPLICAS. */
const PER_POD_IN_FLIGHT = 10;
/** A step: half as much again, less than the agents tell of as a rise. */
const RAISED_PER_POD_IN_FLIGHT = 15;
/** A burst: three times the load, a rise the agents tell of at once. */
const BURST_PER_POD_IN_FLIGHT = 30;
/** The pods may take this long to run; past it the bench goes on with what runs, and says so. */
const PODS_DEADLINE_MS = 360_000;
const TARGETS = { tickMs: 100, rssMB: 300, reactionMs: 2000 };

function deployment(index: number): V1Deployment {
  const labels = { app: nameOf(index) };
  return {
    // Room above the default ceiling (10) for the reaction trials' scale-ups.
    metadata: { name: nameOf(index), namespace: namespaceOf(index), annotations: { 'ebb.dev/max-replicas': String(REPLICAS * 2) } },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: 'app:1', ports: [{ name: 'http', containerPort: 8080 }] }], terminationGracePeriodSeconds: 0 },
      },
    },
  };
}

/** Raises one workload's load to `perPod` at a random phase of the tick; resolves with the time to the scale write. */
async function reactionMs(controlPlane: ControlPlane, agent: StandInAgentsProcess, index: number, perPod: number): Promise<number> {
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
    await agent.setPerPodInFlight(keyOf(index), perPod);
    return await Promise.race([scaled, sleep(15_000).then(() => NaN)]);
  } finally {
    watch.abort();
  }
}

async function main(): Promise<void> {
  const totalPods = WORKLOADS * REPLICAS;
  // Head-room for the scale-ups of the reaction trials.
  const maxPodsPerNode = Math.max(110, Math.ceil((totalPods * 1.1) / NODES));
  console.log(
    `control plane: ${NODES} KWOK nodes × ${maxPodsPerNode} pods; ${WORKLOADS} Deployments × ${REPLICAS} replicas in ${NAMESPACES} namespaces (load ${loadAverage()})`,
  );
  const benchStarted = Date.now();
  const controlPlane = await startBenchControlPlane(NODES, maxPodsPerNode);
  // Every pod's app at 0.25 cores and 200 MiB, varying ±20 % over 20 minutes, and ebb's sidecar.
  const agent = await StandInAgentsProcess.start(
    Array.from({ length: WORKLOADS }, (_, i) => keyOf(i)),
    {
      replicas: REPLICAS,
      nodes: NODES,
      perPodInFlight: PER_POD_IN_FLIGHT,
      usage: [
        { container: 'app', cpuCores: 0.25, memoryBytes: 200 * 2 ** 20, varies: { cpu: true, memory: true } },
        { container: 'ebb-interceptor', cpuCores: 0.01, memoryBytes: 40 * 2 ** 20, varies: { cpu: true } },
      ],
      variation: { fraction: 0.2, periodMs: 20 * 60_000 },
    },
  );
  let controller: ChildProcess | undefined;
  try {
    const namespaces = benchNamespaces();
    const deployments = Array.from({ length: WORKLOADS }, (_, i) => deployment(i));
    const pods = await createWorkloads(controlPlane, namespaces, deployments, totalPods, PODS_DEADLINE_MS);
    const { started, startedAt: controllerStarted, sampler } = await startSampledController(controlPlane, agent, { EBB_TICK_MS: String(TICK_MS) });
    controller = started.child;
    const { port } = started;
    await controllerLeads(port);
    const leaderAfterMs = Date.now() - controllerStarted;
    // The first ticks write every workload's status annotation; the steady window starts after
    // them and covers every workload's first recommendation (its status write and its Event).
    await sleep(3 * TICK_MS);
    const writesBefore = await apiServerWrites(controlPlane);
    const before = tickHistogram(await scrape(port));
    const cpuBefore = cpuSeconds(controller.pid!);
    const mainThreadBefore = threadSchedMs(controller.pid!);
    sampler.record();
    console.log(`controller leading; measuring ticks for ${seconds(STEADY_MS)} s`);
    await sleep(STEADY_MS);
    const after = tickHistogram(await scrape(port));
    const cpuAfter = cpuSeconds(controller.pid!);
    const mainThreadAfter = threadSchedMs(controller.pid!);
    const writes = writesBetween(writesBefore, await apiServerWrites(controlPlane));
    const perSecond = (count: number) => count / (STEADY_MS / 1000);

    // Each trial on a workload of its own, the bursts between the steps.
    const trials = async (kind: string, perPod: number, offset: number) => {
      const times: number[] = [];
      for (let trial = 0; trial < REACTION_TRIALS; trial++) {
        const index = Math.floor(((trial + offset) * WORKLOADS) / REACTION_TRIALS);
        times.push(await reactionMs(controlPlane, agent, index, perPod));
        console.log(`  ${kind} ${trial + 1}: ${keyOf(index)} ${fixed(times.at(-1)!, 0)} ms`);
      }
      return times.filter(Number.isFinite).sort((a, b) => a - b);
    };
    const sortedReactions = await trials('reaction', RAISED_PER_POD_IN_FLIGHT, 0.5);
    const sortedBursts = await trials('burst reaction', BURST_PER_POD_IN_FLIGHT, 0.25);
    await sampler.stop();
    const finalText = await scrape(port);
    const rss = rssMB(controller.pid!);
    // Writes that changed a count: a guarded write refused as moved wrote nothing.
    const scaleWrites = sumSeries(finalText, 'ebb_scale_writes_total', 'outcome="written"');
    printControllerWarnings(started);
    await stopController(controller);
    const agentRequests = await agent.requests();

    const ticks = [...sampler.ticksMs].sort((a, b) => a - b);
    // Each sampled tick in two parts: pulling the agents' activity (here the stand-ins, all on one
    // event loop of their own, where a cluster has an agent on each node), and the rest.
    const agentsParts = [...sampler.agentsMs].sort((a, b) => a - b);
    const ownParts = sampler.ticksMs.map((ms, i) => ms - sampler.agentsMs[i]!).sort((a, b) => a - b);
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
      // What the machine's load does not change: the controller's own CPU for a tick's worth of
      // work (the tick, the sizing rounds and everything else it did in the window, per tick).
      cpu_per_tick_ms: ((cpuAfter - cpuBefore) * 1000) / steadyTicks,
      // The controller's event loop per tick interval: its time on a CPU, and the time it was ready
      // to run but every core was busy (the control plane, the stand-ins, its own GC threads).
      main_thread_cpu_per_tick_ms: (mainThreadAfter.onCpu - mainThreadBefore.onCpu) / steadyTicks,
      main_thread_waiting_per_tick_ms: (mainThreadAfter.waiting - mainThreadBefore.waiting) / steadyTicks,
      tick_p50_ms: percentile(ticks, 50),
      tick_p99_ms: percentile(ticks, 99),
      tick_max_ms: ticks.at(-1) ?? NaN,
      ticks_sampled: ticks.length,
      // With 50 samples p99 is the slowest one: how many are over the target says more.
      ticks_over_target: ticks.filter((ms) => ms > TARGETS.tickMs).length,
      tick_agents_p50_ms: percentile(agentsParts, 50),
      tick_agents_p99_ms: percentile(agentsParts, 99),
      tick_own_p50_ms: percentile(ownParts, 50),
      tick_own_p99_ms: percentile(ownParts, 99),
      ticks_own_over_target: ownParts.filter((ms) => ms > TARGETS.tickMs).length,
      rss_peak_mb: Math.max(sampler.peakRssMB, rss.rss),
      rss_hwm_mb: rss.peak,
      rss_peak_anon_mb: sampler.peakParts.anon,
      rss_peak_file_mb: sampler.peakParts.file,
      rss_peak_at_s: sampler.peakParts.atS,
      reaction_p50_ms: percentile(sortedReactions, 50),
      reaction_max_ms: sortedReactions.at(-1) ?? NaN,
      reactions_seen: sortedReactions.length,
      burst_reaction_p50_ms: percentile(sortedBursts, 50),
      burst_reaction_max_ms: sortedBursts.at(-1) ?? NaN,
      burst_reactions_seen: sortedBursts.length,
      // The agents' answers that a workload's load rose, each a tick ahead of the schedule.
      load_rises: metricValue(finalText, 'ebb_load_rises_total') || 0,
      scale_writes: scaleWrites,
      agent_reports: agentRequests.activityRequests,
      usage_reports: agentRequests.usageRequests,
      recommendations: metricCount(finalText, 'ebb_recommendation_target{') / 2,
      api_writes_per_s: perSecond(writes.reduce((sum, [, count]) => sum + count, 0)),
      api_writes_most: writes
        .slice(0, 5)
        .map(([kind, count]) => `${kind} ${fixed(perSecond(count))}/s`)
        .join(', '),
      checkpoint_writes: seriesValue(finalText, 'ebb_recommender_checkpoint_writes_total{outcome="written"}') || 0,
      bench_s: (Date.now() - benchStarted) / 1000,
      load: loadAverage(),
    };
    console.log(`
${tableHeader}
${row('pods ready / wanted', `${pods.readyReplicas} / ${totalPods}`)}
${row('Deployments created, pods running', `${seconds(pods.createdMs)} s, ${seconds(pods.runningMs)} s`)}
${row(`tick mean (histogram, ${steadyTicks} ticks)`, `${fixed(figures.tick_mean_ms)} ms`, `≤ ${TARGETS.tickMs} ms`, verdict(figures.tick_mean_ms, TARGETS.tickMs))}
${row('controller CPU per tick (all its work)', `${fixed(figures.cpu_per_tick_ms)} ms`)}
${row('its main thread per tick: on a CPU / waiting for one', `${fixed(figures.main_thread_cpu_per_tick_ms)} / ${fixed(figures.main_thread_waiting_per_tick_ms)} ms`)}
${row(`tick p50 / p99 / max (${ticks.length} sampled)`, `${fixed(figures.tick_p50_ms)} / ${fixed(figures.tick_p99_ms)} / ${fixed(figures.tick_max_ms)} ms`, `≤ ${TARGETS.tickMs} ms`, verdict(figures.tick_p99_ms, TARGETS.tickMs))}
${row(`sampled ticks over ${TARGETS.tickMs} ms`, `${figures.ticks_over_target} of ${ticks.length}`)}
${row('of each tick, pulling the agents: p50 / p99', `${fixed(figures.tick_agents_p50_ms)} / ${fixed(figures.tick_agents_p99_ms)} ms`)}
${row('of each tick, the rest: p50 / p99 (over target)', `${fixed(figures.tick_own_p50_ms)} / ${fixed(figures.tick_own_p99_ms)} ms (${figures.ticks_own_over_target})`)}
${row('controller RSS peak (VmRSS / VmHWM)', `${fixed(figures.rss_peak_mb)} / ${fixed(rss.peak)} MB`, `≤ ${TARGETS.rssMB} MB`, verdict(figures.rss_peak_mb, TARGETS.rssMB))}
${row('at the peak: anon + file, when', `${fixed(figures.rss_peak_anon_mb)} + ${fixed(figures.rss_peak_file_mb)} MB, ${fixed(figures.rss_peak_at_s, 0)} s`)}
${row(`reaction p50 / max (${sortedReactions.length}/${REACTION_TRIALS} seen)`, `${fixed(figures.reaction_p50_ms, 0)} / ${fixed(figures.reaction_max_ms, 0)} ms`, `≤ ${TARGETS.reactionMs} ms`, verdict(sortedReactions.length === REACTION_TRIALS ? figures.reaction_max_ms : Infinity, TARGETS.reactionMs))}
${row(`burst reaction p50 / max (${sortedBursts.length}/${REACTION_TRIALS} seen)`, `${fixed(figures.burst_reaction_p50_ms, 0)} / ${fixed(figures.burst_reaction_max_ms, 0)} ms`, `≤ ${TARGETS.reactionMs} ms`, verdict(sortedBursts.length === REACTION_TRIALS ? figures.burst_reaction_max_ms : Infinity, TARGETS.reactionMs))}
${row('load rises told by the agents (ticks run early)', `${figures.load_rises}`)}
${row('usage reports, recommendations, checkpoint writes', `${figures.usage_reports}, ${figures.recommendations}, ${figures.checkpoint_writes}`)}
${row('API server writes in the window (every client)', `${fixed(figures.api_writes_per_s)}/s`)}
most: ${figures.api_writes_most}
load average ${loadAverage()}; the agents are the one stand-in (one server per node, all in one process of their own, each reporting its node's pods)
`);
    writeResult('controller', figures);
  } finally {
    await stopClusterBench(controller, agent, controlPlane);
  }
}

await main();
