import { expect } from 'chai';
import { ContainerModel, DEFAULT_SIZING, type SizingConfig } from '../../../src/core/recommender/index.ts';
import { Container, DAY_MS, HOUR_MS, MiB, MINUTE_MS, SAMPLE_EVERY_MS, START } from './usage.ts';

/** Two days with a daily swing, a step, an OOM kill and a quiet night: every part of the state in use. */
function lived(config: SizingConfig = DEFAULT_SIZING): Container {
  const container = new Container(config);
  for (let hour = 0; hour < 48; hour++) container.run(HOUR_MS, 0.1 + 0.05 * (hour % 24 < 12 ? hour % 24 : 24 - (hour % 24)), 200 + 5 * (hour % 24));
  container.model.addOom({ at: container.now, memoryLimitBytes: 400 * MiB });
  container
    .run(2 * HOUR_MS, 0.9, 420)
    .sleep(3 * DAY_MS)
    .run(20 * MINUTE_MS, 0.2, 150);
  return container;
}

function restored(container: Container, config: SizingConfig = DEFAULT_SIZING): ContainerModel {
  const result = ContainerModel.fromCheckpoint(JSON.parse(JSON.stringify(container.model.toCheckpoint())), config);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

describe('ContainerModel checkpoints', () => {
  it('round-trips through JSON to the identical recommendation, now and after more samples', () => {
    const container = lived();
    const copy = restored(container);
    for (const bounds of [{}, { cpuMaxMillis: 500, memoryMaxBytes: 300 * MiB }]) {
      expect(copy.recommend(container.now, bounds)).to.deep.equal(container.model.recommend(container.now, bounds));
    }
    expect(copy.toCheckpoint()).to.deep.equal(container.model.toCheckpoint());
    for (let at = container.now; at < container.now + 3 * HOUR_MS; at += SAMPLE_EVERY_MS) {
      const sample = { at, cpuCores: 0.3 + 0.2 * Math.sin(at / 600_000), memoryBytes: (180 + (at % 7)) * MiB };
      container.model.addSample(sample);
      copy.addSample(sample);
    }
    expect(copy.recommend(container.now, {})).to.deep.equal(container.model.recommend(container.now, {}));
  });

  it('stays within 2 KiB as JSON with every window at its largest and every bucket in use', () => {
    const largest: SizingConfig = {
      ...DEFAULT_SIZING,
      cpuRecentWindowMs: 30 * MINUTE_MS,
      cpuDecreaseDelayMs: 2 * HOUR_MS,
      memoryPeakIntervals: 24,
      memoryPeakIntervalMs: MINUTE_MS,
      maxSampleGapMs: HOUR_MS,
    };
    // Far-future times and a long history make every number as long as it gets.
    const firstSeenAt = Date.UTC(2286, 0, 1);
    const model = new ContainerModel(largest, firstSeenAt);
    let at = firstSeenAt;
    for (let step = 0; step < 400; step++) {
      at += step % 2 === 0 ? SAMPLE_EVERY_MS : DAY_MS;
      // Usage sweeping every bucket from idle to 64 cores, memory near a TiB.
      model.addSample({ at, cpuCores: 0.0021 * 1.1 ** (step % 110) + (step > 200 ? 63.123457 : 0), memoryBytes: 2 ** 40 - step * 12_345 });
    }
    model.addOom({ at, memoryRequestBytes: 2 ** 40 - 1, memoryLimitBytes: 2 ** 40 + 12_345 });
    const json = JSON.stringify(model.toCheckpoint());
    expect(json.length, json).to.be.at.most(2048);
    expect(JSON.stringify(lived().model.toCheckpoint()).length, 'a typical one').to.be.below(1024);
  });

  it('rejects anything but a version-1 checkpoint, saying what is wrong', () => {
    const good = lived().model.toCheckpoint();
    const cases: [unknown, string][] = [
      [null, 'expected an object, got null'],
      ['{"v":1}', 'expected an object, got "{\\"v\\":1}"'],
      [{ ...good, v: 2 }, 'version 2 is not supported: expected 1'],
      [{ ...good, v: undefined }, 'version missing is not supported: expected 1'],
      [{ ...good, historyMs: -5 }, 'firstSeenAt and historyMs must be times ≥ 0'],
      [{ ...good, cpu: 'x' }, 'cpu, recentCpu, heldCpu and memory must be objects'],
      [{ ...good, cpu: { ...good.cpu, weights: '!!not base64!!' } }, 'cpu: the histogram weights are not base64'],
      [{ ...good, cpu: { ...good.cpu, firstBucket: 109 } }, 'cpu: the histogram weights must be whole float32 values within 110 buckets'],
      [{ ...good, cpu: { ...good.cpu, weights: btoa('\u0000\u0000\u00c0\u00ff') } }, 'cpu: the histogram weights must be finite and ≥ 0'],
      [{ ...good, recentCpu: { ...good.recentCpu, peaks: [1.5] } }, 'recentCpu: each peak must be a whole number ≥ 0 or null'],
      [{ ...good, heldCpu: { ...good.heldCpu, newestSlot: 'late' } }, 'heldCpu: peaks need slotMs > 0'],
      [{ ...good, memory: { ...good.memory, peaks: Array.from({ length: 2000 }, () => 1) } }, 'memory: peaks need'],
      [{ ...good, oom: { at: 5 } }, 'oom: expected null or { at, slot, neededBytes, killedAtBytes }'],
    ];
    for (const [value, message] of cases) {
      const result = ContainerModel.fromCheckpoint(value, DEFAULT_SIZING);
      expect(result.ok, JSON.stringify(value)?.slice(0, 80)).to.equal(false);
      if (!result.ok)
        expect(result.error)
          .to.match(/^the recommender checkpoint is not accepted: /)
          .and.include(message);
    }
  });

  it('restores under an edited policy: windows re-slotted, a new half-life taking over from now', () => {
    const container = lived();
    const before = container.model.recommend(container.now, {})!;
    const edited: SizingConfig = {
      ...DEFAULT_SIZING,
      cpuHalfLifeMs: 24 * HOUR_MS,
      cpuRecentWindowMs: 10 * MINUTE_MS,
      cpuDecreaseDelayMs: 0,
      memoryPeakIntervalMs: 2 * HOUR_MS,
      memoryPeakIntervals: 12,
    };
    const after = restored(container, edited).recommend(container.now, {})!;
    // The history's percentiles are unchanged at the moment of the edit, the memory window still
    // holds the OOM's need (the same 24 h in 2-hour intervals).
    expect(after.cpu.lowerMillis).to.equal(before.cpu.lowerMillis);
    expect(after.memory.targetBytes).to.equal(before.memory.targetBytes);
    expect(after.newestSampleAt).to.equal(before.newestSampleAt);
  });

  it('restores a model that has seen nothing yet', () => {
    const copy = restored(new Container());
    expect(copy.recommend(START, {})).to.equal(undefined);
    copy.addSample({ at: START + SAMPLE_EVERY_MS, cpuCores: 0.5, memoryBytes: 64 * MiB });
    expect(copy.recommend(START, {})?.cpu.targetMillis).to.be.at.least(540);
  });
});
