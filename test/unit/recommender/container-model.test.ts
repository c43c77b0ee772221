import { expect } from 'chai';
import { ContainerModel, DEFAULT_SIZING } from '../../../src/core/recommender/index.ts';
import { Container, DAY_MS, HOUR_MS, MiB, MINUTE_MS, p90Of, SAMPLE_EVERY_MS, START } from './usage.ts';

/** Minutes after which the CPU target entered ±15 % of `level` and stayed there until `untilMs` (sampled every minute); undefined: never. */
function minutesToFollow(container: Container, cores: number, level: number, untilMs: number): number | undefined {
  const from = container.now;
  let followedAt: number | undefined;
  while (container.now - from < untilMs) {
    container.run(MINUTE_MS, cores, 100);
    const within = Math.abs(container.recommend().cpu.targetMillis / 1000 - level) <= 0.15 * level;
    if (!within) followedAt = undefined;
    else followedAt ??= container.now;
  }
  return followedAt === undefined ? undefined : (followedAt - from) / MINUTE_MS;
}

describe('ContainerModel', () => {
  it('has nothing to say before the first sample', () => {
    expect(new ContainerModel(DEFAULT_SIZING, START).recommend(START, {})).to.equal(undefined);
  });

  it('recommends from the first samples of a new workload, raise-only until decreaseAfter of history', () => {
    const container = new Container().run(MINUTE_MS, 0.2, 100, 0);
    const first = container.recommend();
    expect(first.raiseOnly).to.equal(true);
    expect(first.confidence).to.be.below(0.05);
    // Little history: the target carries the doubt (up to ×2), never less than the usage seen.
    expect(first.cpu.targetMillis).to.be.within(216, 440);
    expect(first.memory.targetBytes).to.be.within(105 * MiB, 211 * MiB);
    expect(first.newestSampleAt).to.equal(container.now - SAMPLE_EVERY_MS);

    container.run(DEFAULT_SIZING.decreaseAfterMs, 0.2, 100, 0);
    const trusted = container.recommend();
    expect(trusted.raiseOnly).to.equal(false);
    expect(trusted.confidence).to.equal(1);
    // The same usage now gives a lower target: the caller may apply this decrease.
    // 200m and the margin; the history's level is read within a 10 % bucket, so up to 5 % more.
    expect(trusted.cpu.targetMillis).to.be.within(Math.ceil(200 * (1 + DEFAULT_SIZING.cpuMargin)), 1.05 * 200 * (1 + DEFAULT_SIZING.cpuMargin));
    expect(trusted.memory.targetBytes).to.equal(Math.ceil(100 * (1 + DEFAULT_SIZING.memoryMargin)) * MiB);
    expect(trusted.cpu.targetMillis).to.be.below(first.cpu.targetMillis);
  });

  it('follows a step up ×3 within 15 minutes of samples every 10 s', () => {
    const container = new Container().run(2 * DAY_MS, 0.3, 200);
    const minutes = minutesToFollow(container, 0.9, p90Of(0.9), 3 * HOUR_MS);
    expect(minutes).to.be.at.most(15);
  });

  it('follows a step down ÷3 only once the history agrees, within hours', () => {
    const container = new Container().run(2 * DAY_MS, 0.9, 200);
    const before = container.recommend().cpu.targetMillis;
    container.run(DEFAULT_SIZING.cpuDecreaseDelayMs, 0.3, 200);
    expect(container.recommend().cpu.targetMillis, 'held for the decrease delay').to.be.at.least(0.95 * before);
    container.run(4 * HOUR_MS, 0.3, 200);
    expect(container.recommend().cpu.targetMillis, "the history's level is still the old one").to.be.above(2 * p90Of(0.3) * 1000);
    const minutes = minutesToFollow(container, 0.3, p90Of(0.3), 6 * HOUR_MS);
    expect(minutes, 'followed within the cpu half-life and a bit').to.not.equal(undefined);
  });

  it('bumps memory after an OOM kill, does not escalate on a repeat, caps at memoryMaxBytes and says so', () => {
    const container = new Container().run(2 * HOUR_MS, 0.1, 200, 0);
    expect(container.recommend().memory.targetBytes).to.equal(210 * MiB);

    container.model.addOom({ at: container.now, memoryRequestBytes: 200 * MiB, memoryLimitBytes: 256 * MiB });
    // Killed at its 256 MiB limit: ×1.2 (more than +32 MiB), then the margin, rounded up to MiB.
    const bumped = Math.ceil(256 * 1.2 * 1.05) * MiB;
    expect(container.recommend().memory.targetBytes).to.equal(bumped);
    container.model.addOom({ at: container.now + 1000, memoryLimitBytes: 256 * MiB });
    expect(container.recommend().memory.targetBytes, 'the same kill again: no escalation').to.equal(bumped);

    container.model.addOom({ at: container.now + 2000, memoryLimitBytes: bumped });
    expect(container.recommend().memory.targetBytes, 'killed at the raised limit: bumped again').to.equal(Math.ceil((bumped / MiB) * 1.2 * 1.05) * MiB);

    const max = { memoryMaxBytes: 400 * MiB };
    expect(container.recommend(max).memory).to.deep.include({ targetBytes: 400 * MiB, upperBytes: 400 * MiB });
    expect(container.recommend(max).oomAtMemoryMax, 'capped, but the kill was below the cap').to.equal(false);
    container.model.addOom({ at: container.now + 3000, memoryRequestBytes: 400 * MiB, memoryLimitBytes: 400 * MiB });
    expect(container.recommend(max).memory.targetBytes).to.equal(400 * MiB);
    expect(container.recommend(max).oomAtMemoryMax, 'killed at the cap').to.equal(true);
    expect(container.recommend().oomAtMemoryMax, 'no cap, nothing to warn about').to.equal(false);

    container.run(DEFAULT_SIZING.memoryPeakIntervals * DEFAULT_SIZING.memoryPeakIntervalMs, 0.1, 200, 0);
    expect(container.recommend(max).memory.targetBytes, 'the OOM leaves the memory window').to.equal(210 * MiB);
    expect(container.recommend(max).oomAtMemoryMax).to.equal(false);
  });

  it('keeps its history while asleep at zero: no expiry by sample age', () => {
    const container = new Container().run(2 * DAY_MS, 0.4, 300);
    const beforeSleep = container.recommend();
    container.sleep(10 * DAY_MS);
    expect(container.recommend()).to.deep.equal(beforeSleep);
    container.run(MINUTE_MS, 0.4, 300);
    const awake = container.recommend();
    expect(awake.raiseOnly).to.equal(false);
    expect(awake.cpu.targetMillis).to.be.within(0.9 * beforeSleep.cpu.targetMillis, 1.1 * beforeSleep.cpu.targetMillis);
    expect(awake.memory.targetBytes).to.equal(beforeSleep.memory.targetBytes);
  });

  it("has small floors (10m, 16Mi), not the VPA's 250 MiB, and keeps within the caller's bounds", () => {
    const idle = new Container().run(2 * HOUR_MS, 0.001, 4, 0);
    expect(idle.recommend().cpu).to.deep.equal({ targetMillis: 10, lowerMillis: 10, upperMillis: 10 });
    expect(idle.recommend().memory).to.deep.equal({ targetBytes: 16 * MiB, lowerBytes: 16 * MiB, upperBytes: 16 * MiB });
    expect(idle.recommend({ cpuMinMillis: 50, memoryMinBytes: 64 * MiB })).to.deep.include({
      cpu: { targetMillis: 50, lowerMillis: 50, upperMillis: 50 },
      memory: { targetBytes: 64 * MiB, lowerBytes: 64 * MiB, upperBytes: 64 * MiB },
    });

    const busy = new Container().run(2 * HOUR_MS, 2, 1000, 0);
    expect(busy.recommend({ cpuMaxMillis: 1500, memoryMaxBytes: 800 * MiB + 123 })).to.deep.include({
      cpu: { targetMillis: 1500, lowerMillis: 1500, upperMillis: 1500 },
      memory: { targetBytes: 800 * MiB + 123, lowerBytes: 800 * MiB + 123, upperBytes: 800 * MiB + 123 },
    });
    // Conflicting bounds: a cap is never exceeded.
    expect(busy.recommend({ cpuMinMillis: 3000, cpuMaxMillis: 2500 }).cpu.targetMillis).to.equal(2500);
  });

  it('counts samples of several pods taken at the same instant, whatever their order', () => {
    const quietFirst = new ContainerModel(DEFAULT_SIZING, START);
    const busyFirst = new ContainerModel(DEFAULT_SIZING, START);
    for (let at = START + SAMPLE_EVERY_MS; at <= START + 2 * HOUR_MS; at += SAMPLE_EVERY_MS) {
      const quiet = { at, cpuCores: 0.1, memoryBytes: 100 * MiB };
      const busy = { at, cpuCores: 1, memoryBytes: 400 * MiB };
      quietFirst.addSample(quiet);
      quietFirst.addSample(busy);
      busyFirst.addSample(busy);
      busyFirst.addSample(quiet);
    }
    const recommendation = quietFirst.recommend(START, {})!;
    expect(recommendation.memory.targetBytes).to.be.at.least(400 * MiB);
    expect(recommendation.cpu.targetMillis).to.be.above(100);
    expect(busyFirst.recommend(START, {})).to.deep.equal(recommendation);
  });

  it('ignores samples before the newest one, and values that are not usage', () => {
    const container = new Container().run(2 * HOUR_MS, 0.2, 100, 0);
    const before = container.recommend();
    const newest = container.now - SAMPLE_EVERY_MS;
    container.model.addSample({ at: newest - 1, cpuCores: 50, memoryBytes: 50_000 * MiB });
    container.model.addSample({ at: container.now, cpuCores: -1, memoryBytes: Number.NaN });
    container.model.addSample({ at: container.now });
    expect(container.recommend()).to.deep.equal(before);
  });

  it('takes CPU and memory from the samples that report them', () => {
    const model = new ContainerModel(DEFAULT_SIZING, START);
    model.addSample({ at: START + SAMPLE_EVERY_MS, memoryBytes: 100 * MiB });
    const memoryOnly = model.recommend(START, {})!;
    expect(memoryOnly.cpu.targetMillis).to.equal(DEFAULT_SIZING.cpuFloorMillis);
    expect(memoryOnly.memory.targetBytes).to.be.at.least(105 * MiB);
  });
});
