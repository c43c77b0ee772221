import { expect } from 'chai';
import fc from 'fast-check';
import { ContainerModel, DEFAULT_SIZING, type ContainerRecommendation, type ResourceBounds, type SizingConfig } from '../../../src/core/recommender/index.ts';
import { HOUR_MS, MiB, MINUTE_MS, SAMPLE_EVERY_MS, START } from './usage.ts';

/** One scrape (or a gap: asleep, missed scrapes), sometimes an OOM kill right after it. */
interface Step {
  gapMs: number;
  cpuCores: number;
  memoryBytes: number;
  oom?: { memoryRequestBytes?: number; memoryLimitBytes?: number };
}

const step: fc.Arbitrary<Step> = fc.record({
  gapMs: fc.oneof({ weight: 8, arbitrary: fc.constant(SAMPLE_EVERY_MS) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 6 * HOUR_MS }) }),
  cpuCores: fc.oneof(fc.double({ min: 0, max: 0.05, noNaN: true }), fc.double({ min: 0, max: 80, noNaN: true })),
  memoryBytes: fc.integer({ min: 0, max: 64 * 1024 * MiB }),
  oom: fc.option(
    fc.record(
      {
        memoryRequestBytes: fc.option(fc.integer({ min: 0, max: 4096 * MiB }), { nil: undefined }),
        memoryLimitBytes: fc.option(fc.integer({ min: 0, max: 8192 * MiB }), { nil: undefined }),
      },
      { requiredKeys: [] },
    ),
    { freq: 20, nil: undefined },
  ),
});

const bounds: fc.Arbitrary<ResourceBounds> = fc.record(
  {
    cpuMinMillis: fc.integer({ min: 0, max: 4000 }),
    cpuMaxMillis: fc.integer({ min: 1, max: 64_000 }),
    memoryMinBytes: fc.integer({ min: 0, max: 4096 * MiB }),
    memoryMaxBytes: fc.integer({ min: MiB, max: 64 * 1024 * MiB }),
  },
  { requiredKeys: [] },
);

/** Small windows and a short history need, so that a few dozen steps reach every regime. */
const config: fc.Arbitrary<SizingConfig> = fc
  .record({
    cpuRecentWindowMs: fc.integer({ min: 1, max: 5 }).map((minutes) => minutes * MINUTE_MS),
    cpuDecreaseDelayMs: fc.integer({ min: 0, max: 2 }).map((slots) => slots * 5 * MINUTE_MS),
    memoryPeakIntervalMs: fc.constantFrom(MINUTE_MS, 10 * MINUTE_MS),
    memoryPeakIntervals: fc.integer({ min: 1, max: 6 }),
    decreaseAfterMs: fc.constantFrom(0, 5 * MINUTE_MS, HOUR_MS),
  })
  .map((overrides) => ({ ...DEFAULT_SIZING, ...overrides }));

/** The recommendation after each step. */
function recommendations(sizing: SizingConfig, steps: readonly Step[], limits: ResourceBounds): ContainerRecommendation[] {
  const model = new ContainerModel(sizing, START);
  let at = START;
  return steps.map(({ gapMs, cpuCores, memoryBytes, oom }) => {
    at += gapMs;
    model.addSample({ at, cpuCores, memoryBytes });
    if (oom) model.addOom({ at, ...oom });
    return model.recommend(at, limits)!;
  });
}

describe('ContainerModel.recommend, for any usage', () => {
  it('keeps lower ≤ target ≤ upper, in whole millicores and bytes, within the bounds and above the floors', () => {
    fc.assert(
      fc.property(config, fc.array(step, { minLength: 1, maxLength: 80 }), bounds, (sizing, steps, limits) => {
        for (const { cpu, memory, confidence } of recommendations(sizing, steps, limits)) {
          expect(cpu.lowerMillis).to.be.at.most(cpu.targetMillis);
          expect(cpu.targetMillis).to.be.at.most(cpu.upperMillis);
          expect(memory.lowerBytes).to.be.at.most(memory.targetBytes);
          expect(memory.targetBytes).to.be.at.most(memory.upperBytes);
          for (const millis of [cpu.lowerMillis, cpu.targetMillis, cpu.upperMillis]) {
            expect(Number.isInteger(millis)).to.equal(true);
            expect(millis).to.be.at.most(limits.cpuMaxMillis ?? Infinity);
            // The floors hold too, unless a cap below them wins: a cap is never exceeded.
            expect(millis).to.be.at.least(Math.min(limits.cpuMaxMillis ?? Infinity, Math.max(limits.cpuMinMillis ?? 0, sizing.cpuFloorMillis)));
          }
          for (const bytes of [memory.lowerBytes, memory.targetBytes, memory.upperBytes]) {
            expect(Number.isInteger(bytes)).to.equal(true);
            expect(bytes).to.be.at.most(limits.memoryMaxBytes ?? Infinity);
            expect(bytes).to.be.at.least(Math.min(limits.memoryMaxBytes ?? Infinity, Math.max(limits.memoryMinBytes ?? 0, sizing.memoryFloorBytes)));
          }
          expect(confidence).to.be.within(0, 1);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('never gives a smaller target for more usage (pointwise ≥, same times and OOM kills)', () => {
    const extra = fc.record({ cpuCores: fc.double({ min: 0, max: 4, noNaN: true }), memoryBytes: fc.integer({ min: 0, max: 2048 * MiB }) });
    fc.assert(
      fc.property(
        config,
        fc.array(fc.tuple(step, fc.option(extra, { freq: 2, nil: undefined })), { minLength: 1, maxLength: 80 }),
        bounds,
        (sizing, pairs, limits) => {
          const less = pairs.map(([one]) => one);
          const more = pairs.map(([one, added]) =>
            added ? { ...one, cpuCores: one.cpuCores + added.cpuCores, memoryBytes: one.memoryBytes + added.memoryBytes } : one,
          );
          const lower = recommendations(sizing, less, limits);
          const higher = recommendations(sizing, more, limits);
          lower.forEach((recommendation, index) => {
            expect(higher[index]!.cpu.targetMillis, `cpu at step ${index}`).to.be.at.least(recommendation.cpu.targetMillis);
            expect(higher[index]!.memory.targetBytes, `memory at step ${index}`).to.be.at.least(recommendation.memory.targetBytes);
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});
