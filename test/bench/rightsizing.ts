// Right-sizing benchmark: ebb's recommender (src/core/recommender) against the VPA's own
// recommender (test/bench/rightsizing/vpa-peer.ts: the VPA's model and logic packages run as a Go
// peer), both fed the same synthetic traces (test/bench/rightsizing/traces.ts: nine shapes, 10-s
// samples over 8+ simulated days) in the same run. Each publishes a recommendation every 5
// simulated minutes and the pod's requests follow it (ebb's raise-only targets only upwards).
// Figures, per trace and pooled over all traces, per resource:
//   slack        Σ(request − usage)⁺ / Σ request over the samples
//   under        the share of samples using more than their request
//   follow       minutes from a step until the target stays within ±15 % of the new level's p90
//   reach        …until it stays on the new level's side of that band (beyond it is fine: the
//                VPA's +15 % margin on p90 keeps it above the band for good)
//   resizes/day  request moves of more than sizing.tolerance (10 %) from the last one
// and ebb's cost: mean and p99 ms of a 10-s round (addSample + recommend) for 10,000 containers,
// wall-clock and CPU time (the second is what the round costs when other processes share the cores).
// Targets: overall slack ≤ 0.7× the VPA's with no more under-provisioned samples for either
// resource; a step up followed within 15 simulated minutes; ≤ 50 ms a round.
// Run: npm run bench:rightsizing [policy.yaml]   (a policy file's sizing: section replaces the
// defaults; the first run builds the Go peer, about two minutes)

import { readFileSync } from 'node:fs';
import { parsePolicy } from '../../src/core/policy.ts';
import { DEFAULT_SIZING, type SizingConfig } from '../../src/core/recommender/index.ts';
import { loadAverage, writeResult } from './bench-support.ts';
import { measureRoundCost } from './rightsizing/cost.ts';
import { runEbb } from './rightsizing/ebb.ts';
import { addTally, emptyTally, figuresOf, RESOURCES, slackRatio, underShare, type Published, type TraceFigures } from './rightsizing/figures.ts';
import { SAMPLE_EVERY_MS, traces, type Trace } from './rightsizing/traces.ts';
import { runVpaPeer } from './rightsizing/vpa-peer.ts';

const RECOMMEND_EVERY_MS = 5 * 60_000;
const COST_CONTAINERS = 10_000;
const COST_ROUNDS = 100;

function sizingFrom(path: string | undefined): SizingConfig {
  if (!path) return DEFAULT_SIZING;
  const parsed = parsePolicy(readFileSync(path, 'utf8'));
  if (!parsed.ok) throw new Error(parsed.errors.map((error) => error.message).join('\n'));
  return parsed.policy.sizing;
}

async function vpaOf(trace: Trace): Promise<Published[]> {
  const recommendations = await runVpaPeer({ samples: trace.samples, ooms: trace.ooms, recommendEveryMs: RECOMMEND_EVERY_MS });
  // All zeros: the VPA has no recommendation at that tick.
  return recommendations.map(({ at, cpu, memory }) => ({
    at,
    cpuCores: cpu.target > 0 ? cpu.target : null,
    memoryBytes: memory.target > 0 ? memory.target : null,
    raiseOnly: false,
  }));
}

const percent = (value: number, digits = 1) => `${(100 * value).toFixed(digits)}%`;
const minutes = (value: number | null) => (value === null ? 'never' : `${value.toFixed(0)} min`);
const pair = (ebb: string, vpa: string, width = 18) => `${ebb} / ${vpa}`.padEnd(width);

function row(name: string, ebb: TraceFigures, vpa: TraceFigures): string {
  const cells = RESOURCES.flatMap((resource) => [
    pair(percent(slackRatio(ebb.tally[resource])), percent(slackRatio(vpa.tally[resource]))),
    pair(percent(underShare(ebb.tally[resource]), 3), percent(underShare(vpa.tally[resource]), 3)),
  ]);
  return `${name.padEnd(10)}${cells.join('')}${pair(ebb.resizesPerDay.toFixed(1), vpa.resizesPerDay.toFixed(1))}`;
}

function stepRows(name: string, ebb: TraceFigures, vpa: TraceFigures): string[] {
  return RESOURCES.map((resource) => {
    const [mine, theirs] = [ebb.step![resource], vpa.step![resource]];
    return `${`${name} ${resource === 'cpuCores' ? 'cpu' : 'memory'}`.padEnd(18)}${pair(minutes(mine.follow), minutes(theirs.follow), 22)}${pair(minutes(mine.reach), minutes(theirs.reach), 22)}`;
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const sizing = sizingFrom(process.argv[2]);
  const all = traces();
  const overall = { ebb: { cpuCores: emptyTally(), memoryBytes: emptyTally() }, vpa: { cpuCores: emptyTally(), memoryBytes: emptyTally() } };
  const results: { trace: Trace; ebb: TraceFigures; vpa: TraceFigures }[] = [];
  for (const trace of all) {
    const ebb = figuresOf(trace, runEbb(trace, sizing, RECOMMEND_EVERY_MS), sizing.tolerance, SAMPLE_EVERY_MS);
    const vpa = figuresOf(trace, await vpaOf(trace), sizing.tolerance, SAMPLE_EVERY_MS);
    for (const resource of RESOURCES) {
      addTally(overall.ebb[resource], ebb.tally[resource]);
      addTally(overall.vpa[resource], vpa.tally[resource]);
    }
    results.push({ trace, ebb, vpa });
  }

  console.log("Traces (10-s samples, requests follow each recommender's target every 5 min):");
  for (const { trace } of results) console.log(`  ${trace.name.padEnd(10)}${trace.description}`);
  console.log('\nebb / vpa  cpu slack         cpu under         memory slack      memory under      resizes/day');
  for (const { trace, ebb, vpa } of results) console.log(row(trace.name, ebb, vpa));
  const pooled = (side: 'ebb' | 'vpa'): TraceFigures => ({
    tally: overall[side],
    step: undefined,
    resizesPerDay: results.reduce((sum, result) => sum + result[side].resizesPerDay, 0) / results.length,
  });
  console.log(row('overall', pooled('ebb'), pooled('vpa')));
  console.log('\nsteps, ebb / vpa  follow (±15 % of p90)  reach (near edge)');
  for (const { trace, ebb, vpa } of results) if (trace.step) for (const line of stepRows(trace.name, ebb, vpa)) console.log(line);

  const cost = measureRoundCost(sizing, COST_CONTAINERS, COST_ROUNDS);
  console.log(
    `\ncost: ${cost.containers} containers, ${cost.rounds} rounds of addSample + recommend: mean ${cost.meanMs.toFixed(1)} ms, p99 ${cost.p99Ms.toFixed(1)} ms, max ${cost.maxMs.toFixed(1)} ms wall-clock; CPU time mean ${cost.cpuMeanMs.toFixed(1)} ms, p99 ${cost.cpuP99Ms.toFixed(1)} ms (load ${loadAverage()})`,
  );

  const stepOf = (direction: 'up' | 'down', side: 'ebb' | 'vpa') => results.find(({ trace }) => trace.step?.direction === direction)?.[side].step;
  const step = (direction: 'up' | 'down', resource: 'cpuCores' | 'memoryBytes', figure: 'follow' | 'reach', side: 'ebb' | 'vpa') => {
    const value = stepOf(direction, side)?.[resource][figure];
    return value === null || value === undefined ? 'never' : Number(value.toFixed(1));
  };
  const figures = {
    cpu_slack_ebb: slackRatio(overall.ebb.cpuCores),
    cpu_slack_vpa: slackRatio(overall.vpa.cpuCores),
    cpu_slack_ratio: slackRatio(overall.ebb.cpuCores) / slackRatio(overall.vpa.cpuCores),
    memory_slack_ebb: slackRatio(overall.ebb.memoryBytes),
    memory_slack_vpa: slackRatio(overall.vpa.memoryBytes),
    memory_slack_ratio: slackRatio(overall.ebb.memoryBytes) / slackRatio(overall.vpa.memoryBytes),
    cpu_under_pct_ebb: 100 * underShare(overall.ebb.cpuCores),
    cpu_under_pct_vpa: 100 * underShare(overall.vpa.cpuCores),
    memory_under_pct_ebb: 100 * underShare(overall.ebb.memoryBytes),
    memory_under_pct_vpa: 100 * underShare(overall.vpa.memoryBytes),
    step_up_cpu_follow_min_ebb: step('up', 'cpuCores', 'follow', 'ebb'),
    step_up_cpu_follow_min_vpa: step('up', 'cpuCores', 'follow', 'vpa'),
    step_up_cpu_reach_min_ebb: step('up', 'cpuCores', 'reach', 'ebb'),
    step_up_cpu_reach_min_vpa: step('up', 'cpuCores', 'reach', 'vpa'),
    step_up_memory_follow_min_ebb: step('up', 'memoryBytes', 'follow', 'ebb'),
    step_up_memory_follow_min_vpa: step('up', 'memoryBytes', 'follow', 'vpa'),
    step_down_cpu_follow_min_ebb: step('down', 'cpuCores', 'follow', 'ebb'),
    step_down_cpu_follow_min_vpa: step('down', 'cpuCores', 'follow', 'vpa'),
    step_down_cpu_reach_min_ebb: step('down', 'cpuCores', 'reach', 'ebb'),
    step_down_cpu_reach_min_vpa: step('down', 'cpuCores', 'reach', 'vpa'),
    resizes_per_day_ebb: pooled('ebb').resizesPerDay,
    resizes_per_day_vpa: pooled('vpa').resizesPerDay,
    round_mean_ms: cost.meanMs,
    round_p99_ms: cost.p99Ms,
    round_cpu_mean_ms: cost.cpuMeanMs,
    round_cpu_p99_ms: cost.cpuP99Ms,
    containers: cost.containers,
    traces: results.length,
    bench_s: (Date.now() - started) / 1000,
    load: loadAverage(),
  };
  writeResult('rightsizing', figures);
}

await main();
