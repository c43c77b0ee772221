// ebb's side of the right-sizing benchmark: a trace through one ContainerModel, in the order the
// VPA peer gets it (at each instant samples, then OOMs, then the recommend tick), with a tick every
// recommendEveryMs from the first sample to the last event.

import { ContainerModel, type SizingConfig } from '../../../src/core/recommender/index.ts';
import type { Published } from './figures.ts';
import type { Trace } from './traces.ts';

export function runEbb(trace: Trace, config: SizingConfig, recommendEveryMs: number): Published[] {
  const { samples, ooms } = trace;
  const first = samples[0];
  if (!first) return [];
  const model = new ContainerModel(config, first.at);
  const end = Math.max(samples.at(-1)!.at, ooms.at(-1)?.at ?? first.at);
  const published: Published[] = [];
  let sampleIndex = 0;
  let oomIndex = 0;
  for (let tick = first.at; tick <= end; tick += recommendEveryMs) {
    while (sampleIndex < samples.length && samples[sampleIndex]!.at <= tick) model.addSample(samples[sampleIndex++]!);
    while (oomIndex < ooms.length && ooms[oomIndex]!.at <= tick) {
      const oom = ooms[oomIndex++]!;
      model.addOom({ at: oom.at, memoryLimitBytes: oom.memoryBytes });
    }
    const recommendation = model.recommend(tick, {});
    published.push({
      at: tick,
      cpuCores: recommendation ? recommendation.cpu.targetMillis / 1000 : null,
      memoryBytes: recommendation ? recommendation.memory.targetBytes : null,
      raiseOnly: recommendation?.raiseOnly ?? false,
    });
  }
  return published;
}
