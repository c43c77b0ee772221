// Stepped usage for the recommender's tests: a sample every 10 s from a seeded source, the clock
// held by the test (never read from the machine).

import { ContainerModel, DEFAULT_SIZING, type ContainerRecommendation, type ResourceBounds, type SizingConfig } from '../../../src/core/recommender/index.ts';
import { normalFrom, seededRandom } from '../../fixtures/random.ts';

export const SAMPLE_EVERY_MS = 10_000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const MiB = 2 ** 20;
export const START = Date.UTC(2026, 0, 5);

/** One container's model and its clock: `run` feeds samples and moves the clock on. */
export class Container {
  readonly model: ContainerModel;
  now = START;
  private readonly normal = normalFrom(seededRandom(7));

  constructor(config: SizingConfig = DEFAULT_SIZING) {
    this.model = new ContainerModel(config, START);
  }

  /** Samples every 10 s for `durationMs`: `cores` and `mib` with relative noise (σ) `noise` on CPU. */
  run(durationMs: number, cores: number, mib: number, noise = 0.1): this {
    const end = this.now + durationMs;
    for (; this.now < end; this.now += SAMPLE_EVERY_MS) {
      this.model.addSample({ at: this.now, cpuCores: Math.max(0, cores * (1 + noise * this.normal())), memoryBytes: mib * MiB });
    }
    return this;
  }

  /** Time passes without samples (asleep at zero). */
  sleep(durationMs: number): this {
    this.now += durationMs;
    return this;
  }

  recommend(bounds: ResourceBounds = {}): ContainerRecommendation {
    const recommendation = this.model.recommend(this.now, bounds);
    if (!recommendation) throw new Error('expected a recommendation');
    return recommendation;
  }
}

/** The 90th percentile of `cores` with 10 % noise: what "the new level's p90" is for a step. */
export const p90Of = (cores: number) => cores * (1 + 0.1 * 1.2816);
