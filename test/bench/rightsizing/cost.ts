// The recommender's cost at the controller's scale: one 10-s round for 10,000 containers is
// ContainerModel.addSample for every container, then recommend for every container. The models
// first get an hour of history each (levels spread like a fleet's: 5m to 4 cores, 20 MiB to
// 4 GiB), every round's samples are generated before its clock starts, and the first 10 rounds
// (the JIT compiling) are not measured.

import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { ContainerModel, type SizingConfig, type UsageSample } from '../../../src/core/recommender/index.ts';
import { seededRandom } from '../../fixtures/random.ts';
import { percentile } from '../bench-support.ts';

const SAMPLE_EVERY_MS = 10_000;
const WARM_UP_SAMPLES = 360;
const UNMEASURED_ROUNDS = 10;
const MIB = 2 ** 20;

export interface RoundCost {
  containers: number;
  rounds: number;
  /** Wall-clock time of a round. */
  meanMs: number;
  p99Ms: number;
  maxMs: number;
  /** The process's CPU time in a round: what the round costs when other processes take turns on the cores. */
  cpuMeanMs: number;
  cpuP99Ms: number;
}

export function measureRoundCost(config: SizingConfig, containers: number, rounds: number): RoundCost {
  const uniform = seededRandom(42);
  const start = Date.UTC(2026, 0, 5);
  const levels = Array.from({ length: containers }, () => ({ cores: 0.005 * 800 ** uniform(), bytes: 20 * MIB * 200 ** uniform() }));
  const models = levels.map(() => new ContainerModel(config, start));
  const sampleAt = (index: number, round: number): UsageSample => {
    const { cores, bytes } = levels[index]!;
    return { at: start + round * SAMPLE_EVERY_MS, cpuCores: cores * (0.6 + 0.8 * uniform()), memoryBytes: Math.round(bytes * (0.95 + 0.1 * uniform())) };
  };
  for (let round = 1; round <= WARM_UP_SAMPLES; round++) models.forEach((model, index) => model.addSample(sampleAt(index, round)));

  const durations: number[] = [];
  const cpuTimes: number[] = [];
  // The first rounds also compile the code: measured are the rounds after them.
  for (let round = WARM_UP_SAMPLES + 1; round <= WARM_UP_SAMPLES + UNMEASURED_ROUNDS + rounds; round++) {
    const samples = models.map((_, index) => sampleAt(index, round));
    const now = start + round * SAMPLE_EVERY_MS;
    const began = performance.now();
    const cpuBefore = process.cpuUsage();
    for (let index = 0; index < containers; index++) models[index]!.addSample(samples[index]!);
    let recommended = 0;
    for (const model of models) if (model.recommend(now, {})) recommended++;
    const wallMs = performance.now() - began;
    const cpu = process.cpuUsage(cpuBefore);
    if (recommended !== containers) throw new Error(`only ${recommended} of ${containers} containers got a recommendation`);
    if (round <= WARM_UP_SAMPLES + UNMEASURED_ROUNDS) continue;
    durations.push(wallMs);
    cpuTimes.push((cpu.user + cpu.system) / 1000);
  }
  const sorted = [...durations].sort((a, b) => a - b);
  const cpuSorted = [...cpuTimes].sort((a, b) => a - b);
  const mean = (values: readonly number[]) => values.reduce((sum, ms) => sum + ms, 0) / values.length;
  return {
    containers,
    rounds,
    meanMs: mean(durations),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? NaN,
    cpuMeanMs: mean(cpuTimes),
    cpuP99Ms: percentile(cpuSorted, 99),
  };
}
