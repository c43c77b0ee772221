// One container's usage history and the recommendation it gives. Mutable for speed (the
// controller keeps 10,000 of these and feeds them every 10 s), but pure: no I/O and no clock; time
// comes only from the samples and arguments.
//
// The model:
// - Observed time. History is measured in time during which samples arrive: each gap between
//   samples counts up to sizing.maxSampleGap. A workload asleep at zero for days (no samples) wakes
//   with the history it slept with; nothing expires by age (the VPA forgets after 8 days).
// - CPU, recent: the per-minute CPU peaks of the last sizing.cpuRecentWindow at
//   cpuRecentPercentile (the level CPU reached in most recent minutes), held for
//   sizing.cpuDecreaseDelay: the target follows it up within minutes, down after the delay.
// - CPU, history: a decaying histogram (histogram.ts, half-life sizing.cpuHalfLife); the target
//   never goes below its cpuPercentile (the lower bound), so a dip shorter than the history's
//   memory does not take the request with it. The upper bound is its cpuUpperPercentile.
// - Memory: the peak of each sizing.memoryPeakInterval; the target is the highest of the last
//   memoryPeakIntervals (a step up counts at once, through the current interval's peak), the
//   lower bound their median.
// - OOM: the memory it was killed at (its limit, else its request, else the interval's peak) ×
//   oomBumpRatio, at least + oomMinBump, held for the memory window; a repeated OOM at an
//   unchanged request does not escalate. Recommendations never exceed bounds.memoryMaxBytes;
//   oomAtMemoryMax says an OOM happened with the request already at that cap.
// - Margins (cpuMargin, memoryMargin) on top, then floors (cpuFloor, memoryFloor and the caller's
//   bounds), rounding (whole millicores, whole MiB), and the caller's caps.
// - Until sizing.decreaseAfter of history is observed (confidence < 1), targets and upper bounds
//   carry a doubt factor (×2 with no history, down to ×1) and the recommendation is raise-only
//   (`raiseOnly`): the caller applies a target only where it is above the current request. A new
//   workload gets a generous request within minutes, the trimmed one once its peaks were seen.
//
// Checkpoint: JSON-safe, versioned, at most 2 KiB as JSON for every accepted config: the histogram
// ≤ 588 characters, ≤ 30 recent and ≤ 25 held CPU levels, ≤ 24 memory peaks (the limits of the
// policy's windows); tested with everything at its largest in test/unit/recommender/checkpoint.test.ts.
import { fail, ok, type Result } from '../result.ts';
import {
  confidenceOf,
  mibToBytes,
  oomNeed,
  requestRange,
  toMillicores,
  toRequestBytes,
  usageMib,
  usageMillicores,
  widenedByDoubt,
  withMargin,
} from './estimators.ts';
import { DecayingHistogram, MAX_CORES, type HistogramState } from './histogram.ts';
import { PeakRing, type PeakRingState } from './peak-ring.ts';
import type { SizingConfig } from './sizing.ts';
import type { Bytes, Cores, Millicores, ObservedMs } from './units.ts';

/** One container, one kubelet scrape; a resource left out was not reported. */
export interface UsageSample {
  /** Epoch ms. */
  at: number;
  cpuCores?: Cores;
  memoryBytes?: Bytes;
}

export interface OomEvent {
  /** Epoch ms. */
  at: number;
  /** The container's memory request and limit when it was killed, where known. */
  memoryRequestBytes?: Bytes;
  memoryLimitBytes?: Bytes;
}

/** From ebb.dev/cpu-min… and the namespace's LimitRange min/max, already merged by the caller. */
export interface ResourceBounds {
  cpuMinMillis?: Millicores;
  cpuMaxMillis?: Millicores;
  memoryMinBytes?: Bytes;
  memoryMaxBytes?: Bytes;
}

export interface ContainerRecommendation {
  cpu: { targetMillis: Millicores; lowerMillis: Millicores; upperMillis: Millicores };
  memory: { targetBytes: Bytes; lowerBytes: Bytes; upperBytes: Bytes };
  /** 0..1: the share of sizing.decreaseAfter observed so far. */
  confidence: number;
  /** Epoch ms of the newest sample; null when none. */
  newestSampleAt: number | null;
  /** An OOM happened while the memory target was already capped by memoryMaxBytes (the caller emits one Warning Event). */
  oomAtMemoryMax: boolean;
  /**
   * True until sizing.decreaseAfter of history has been observed: apply a target only where it is
   * above the current request (raise now, lower once the history can be trusted).
   */
  raiseOnly: boolean;
}

/** The one OOM the model remembers: the latest, with the most memory any OOM in the window asked for. */
interface OomRecord {
  at: number;
  /** The memory interval it happened in; it counts while that interval is in the window. */
  slot: number;
  neededBytes: Bytes;
  /** Its limit or request at the kill; null when not reported. */
  killedAtBytes: Bytes | null;
}

export interface ContainerCheckpoint {
  v: 1;
  firstSeenAt: number;
  newestSampleAt: number | null;
  historyMs: ObservedMs;
  cpu: HistogramState;
  recentCpu: PeakRingState;
  heldCpu: PeakRingState;
  memory: PeakRingState;
  oom: OomRecord | null;
}

const MINUTE_MS = 60_000;

export class ContainerModel {
  private newestSampleAt: number | null = null;
  /** Observed time since firstSeenAt. */
  private historyMs: ObservedMs = 0;
  private cpuHistory: DecayingHistogram;
  /** Per-minute CPU peaks, in millicores. */
  private recentCpu: PeakRing;
  /** The recent CPU level (millicores) per 5 minutes over the decrease delay: the highest is held. */
  private heldCpu: PeakRing;
  /** Per-interval memory peaks, in MiB. */
  private memoryPeaks: PeakRing;
  private oom: OomRecord | null = null;

  constructor(
    private readonly config: SizingConfig,
    private readonly firstSeenAt: number,
  ) {
    this.cpuHistory = new DecayingHistogram(config.cpuHalfLifeMs);
    this.recentCpu = new PeakRing(recentSlots(config), MINUTE_MS);
    this.heldCpu = new PeakRing(heldSlots(config), HOLD_SLOT_MS);
    this.memoryPeaks = new PeakRing(config.memoryPeakIntervals, config.memoryPeakIntervalMs);
  }

  /**
   * Samples before the newest already added are ignored, as are values that are not finite and ≥ 0.
   * One at the same instant counts: the pods of a workload on one node are scraped together, and
   * each pod's sample of the container is usage the request must cover.
   */
  addSample(sample: UsageSample): void {
    const { at, cpuCores, memoryBytes } = sample;
    const cpuValid = cpuCores !== undefined && cpuCores >= 0 && Number.isFinite(cpuCores);
    const memoryValid = memoryBytes !== undefined && memoryBytes >= 0 && Number.isFinite(memoryBytes);
    if (!(cpuValid || memoryValid) || !Number.isFinite(at) || (this.newestSampleAt !== null && at < this.newestSampleAt)) return;
    const gap = at - (this.newestSampleAt ?? this.firstSeenAt);
    this.historyMs += Math.min(this.config.maxSampleGapMs, Math.max(0, gap));
    this.newestSampleAt = at;
    if (cpuValid) this.addCpu(cpuCores);
    if (memoryValid) this.memoryPeaks.record(this.historyMs, usageMib(memoryBytes));
  }

  private addCpu(cores: Cores): void {
    this.cpuHistory.add(cores, this.historyMs);
    const newMinute = !this.recentCpu.holds(this.recentCpu.slotOf(this.historyMs));
    this.recentCpu.record(this.historyMs, usageMillicores(cores, MAX_CORES));
    // Once a minute (not every sample: a sort per sample would be most of the cost), the recent
    // level joins the levels held over the decrease delay.
    if (newMinute) this.heldCpu.record(this.historyMs, this.recentLevel());
  }

  /** The recent CPU level in millicores: cpuRecentPercentile of the per-minute peaks (0 before any). */
  private recentLevel(): number {
    return this.recentCpu.quantile(this.config.cpuRecentPercentile) ?? 0;
  }

  addOom(event: OomEvent): void {
    const slot = this.memoryPeaks.slotOf(this.historyMs);
    // The interval is open from now on, so the OOM counts for a whole window even before a sample.
    this.memoryPeaks.advanceTo(slot);
    const killedAt = Math.max(event.memoryLimitBytes ?? 0, event.memoryRequestBytes ?? 0);
    const used = Math.max(killedAt, mibToBytes(this.memoryPeaks.peakAt(slot) ?? 0));
    const previous = this.heldOomNeed();
    const needed = Math.max(previous, oomNeed(used, this.config.oomBumpRatio, this.config.oomMinBumpBytes));
    this.oom = { at: event.at, slot, neededBytes: needed, killedAtBytes: killedAt > 0 ? killedAt : null };
  }

  /**
   * undefined until the first sample. `now` is not read: the recommendation depends on observed
   * history only, so a workload asleep at zero wakes with the recommendation it slept with.
   */
  recommend(_now: number, bounds: ResourceBounds): ContainerRecommendation | undefined {
    if (this.newestSampleAt === null) return undefined;
    const { config } = this;
    const confidence = confidenceOf(this.historyMs, config.decreaseAfterMs);
    const cpuLevel = this.cpuHistory.percentile(config.cpuPercentile);
    const cpuTarget = Math.max(cpuLevel, Math.max(this.recentLevel(), this.heldCpu.max() ?? 0) / 1000);
    const cpuHigh = Math.max(this.cpuHistory.percentile(config.cpuUpperPercentile), cpuTarget);
    const oomNeeded = this.heldOomNeed();
    const memoryBase = Math.max(mibToBytes(this.memoryPeaks.max() ?? 0), oomNeeded);
    const memoryTypical = mibToBytes(this.memoryPeaks.quantile(0.5) ?? 0);

    const cpuFloor = Math.max(config.cpuFloorMillis, bounds.cpuMinMillis ?? 0);
    const cpuCap = bounds.cpuMaxMillis ?? Infinity;
    const cpu = requestRange({ lower: cpuLevel, target: cpuTarget, upper: cpuHigh }, config.cpuMargin, confidence, (cores) =>
      toMillicores(cores, cpuFloor, cpuCap),
    );
    const memoryFloor = Math.max(config.memoryFloorBytes, bounds.memoryMinBytes ?? 0);
    const memoryCap = bounds.memoryMaxBytes ?? Infinity;
    const memory = requestRange({ lower: memoryTypical, target: memoryBase, upper: memoryBase }, config.memoryMargin, confidence, (bytes) =>
      toRequestBytes(bytes, memoryFloor, memoryCap),
    );
    const capped = withMargin(widenedByDoubt(memoryBase, confidence), config.memoryMargin) > memoryCap;
    const oomAtCap = oomNeeded > 0 && (this.oom?.killedAtBytes ?? memoryCap) >= memoryCap;
    return {
      cpu: { targetMillis: cpu.target, lowerMillis: cpu.lower, upperMillis: cpu.upper },
      memory: { targetBytes: memory.target, lowerBytes: memory.lower, upperBytes: memory.upper },
      confidence,
      newestSampleAt: this.newestSampleAt,
      oomAtMemoryMax: capped && oomAtCap,
      raiseOnly: confidence < 1,
    };
  }

  toCheckpoint(): ContainerCheckpoint {
    return {
      v: 1,
      firstSeenAt: this.firstSeenAt,
      newestSampleAt: this.newestSampleAt,
      historyMs: this.historyMs,
      cpu: this.cpuHistory.toState(),
      recentCpu: this.recentCpu.toState(),
      heldCpu: this.heldCpu.toState(),
      memory: this.memoryPeaks.toState(),
      oom: this.oom && { ...this.oom },
    };
  }

  /**
   * A model from its checkpoint, under `config`, which may differ from the one it was saved with
   * (the policy was edited: windows are re-slotted, a new half-life applies from now on). Rejects
   * anything but a version-1 checkpoint of the right shape, saying what is wrong.
   */
  static fromCheckpoint(value: unknown, config: SizingConfig): Result<ContainerModel> {
    const read = readCheckpoint(value, config);
    if (!read.ok) return fail(`the recommender checkpoint is not accepted: ${read.error}`);
    const model = new ContainerModel(config, read.value.firstSeenAt);
    model.newestSampleAt = read.value.newestSampleAt;
    model.historyMs = read.value.historyMs;
    model.cpuHistory = read.value.cpuHistory;
    model.recentCpu = read.value.recentCpu;
    model.heldCpu = read.value.heldCpu;
    model.memoryPeaks = read.value.memoryPeaks;
    model.oom = read.value.oom;
    return ok(model);
  }

  /** What the OOM asked for, while its interval is in the memory window; else 0. */
  private heldOomNeed(): Bytes {
    return this.oom !== null && this.memoryPeaks.holds(this.oom.slot) ? this.oom.neededBytes : 0;
  }
}

const HOLD_SLOT_MS = 5 * MINUTE_MS;
const recentSlots = (config: SizingConfig) => Math.max(1, Math.round(config.cpuRecentWindowMs / MINUTE_MS));
/** The slot being filled plus the delay's whole slots: a level is held for the delay to 5 minutes more. */
const heldSlots = (config: SizingConfig) => 1 + Math.round(config.cpuDecreaseDelayMs / HOLD_SLOT_MS);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

interface CheckpointParts {
  firstSeenAt: number;
  newestSampleAt: number | null;
  historyMs: ObservedMs;
  cpuHistory: DecayingHistogram;
  recentCpu: PeakRing;
  heldCpu: PeakRing;
  memoryPeaks: PeakRing;
  oom: OomRecord | null;
}

function readCheckpoint(value: unknown, config: SizingConfig): Result<CheckpointParts> {
  if (!isRecord(value)) return fail(`expected an object, got ${JSON.stringify(value) ?? String(value)}`);
  if (value.v !== 1) return fail(`version ${JSON.stringify(value.v) ?? 'missing'} is not supported: expected 1`);
  const { firstSeenAt, newestSampleAt, historyMs, cpu, recentCpu, heldCpu, memory, oom } = value;
  if (!isTime(firstSeenAt) || !(newestSampleAt === null || isTime(newestSampleAt)) || !isTime(historyMs)) {
    return fail('firstSeenAt and historyMs must be times ≥ 0, newestSampleAt a time or null');
  }
  if (!isRecord(cpu) || !isRecord(recentCpu) || !isRecord(heldCpu) || !isRecord(memory)) return fail('cpu, recentCpu, heldCpu and memory must be objects');
  const cpuHistory = DecayingHistogram.fromState(cpu as unknown as HistogramState, config.cpuHalfLifeMs, historyMs);
  if (!cpuHistory.ok) return fail(`cpu: ${cpuHistory.error}`);
  const recent = PeakRing.fromState(recentCpu as unknown as PeakRingState, recentSlots(config), MINUTE_MS);
  if (!recent.ok) return fail(`recentCpu: ${recent.error}`);
  const held = PeakRing.fromState(heldCpu as unknown as PeakRingState, heldSlots(config), HOLD_SLOT_MS);
  if (!held.ok) return fail(`heldCpu: ${held.error}`);
  const memoryPeaks = PeakRing.fromState(memory as unknown as PeakRingState, config.memoryPeakIntervals, config.memoryPeakIntervalMs);
  if (!memoryPeaks.ok) return fail(`memory: ${memoryPeaks.error}`);
  const oomRecord = readOom(oom, (memory as unknown as PeakRingState).slotMs, memoryPeaks.value);
  if (!oomRecord.ok) return fail(`oom: ${oomRecord.error}`);
  return ok({
    firstSeenAt,
    newestSampleAt,
    historyMs,
    cpuHistory: cpuHistory.value,
    recentCpu: recent.value,
    heldCpu: held.value,
    memoryPeaks: memoryPeaks.value,
    oom: oomRecord.value,
  });
}

function readOom(value: unknown, savedSlotMs: number, memoryPeaks: PeakRing): Result<OomRecord | null> {
  if (value === null || value === undefined) return ok(null);
  if (
    !isRecord(value) ||
    !isTime(value.at) ||
    !Number.isSafeInteger(value.slot) ||
    !isTime(value.neededBytes) ||
    !(value.killedAtBytes === null || isTime(value.killedAtBytes))
  ) {
    return fail('expected null or { at, slot, neededBytes, killedAtBytes }');
  }
  const slot = memoryPeaks.slotOf((value.slot as number) * savedSlotMs);
  return ok({ at: value.at, slot, neededBytes: value.neededBytes, killedAtBytes: value.killedAtBytes });
}
