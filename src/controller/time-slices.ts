// The controller's one event loop, shared between the scaling tick and the background rounds
// (sizing, resize, repair, evictions, status and checkpoint writes). Cutting the rounds into
// slices was not enough: a tick waits for I/O (the agents' answers) several times, and at each
// wait the loop ran the next slices of whatever round was under way, so the tick's length became
// its own work plus everything that ran beside it (bench:controller: the slowest ticks were the
// ones beside a sizing round). So the tick goes first: while it runs, background work waits at its
// next slice boundary, and goes on once the tick has settled. The tick decides on the activity it
// just read, not on figures a sizing round made it wait past; the rounds lose only the tick's length.

import { earlyTickDelay } from '../core/early-tick.ts';

/** Long enough that yielding costs nothing measurable; short beside the tick's 100 ms target. */
export const DEFAULT_SLICE_MS = 5;
/**
 * The least time between the start of a tick and an early one: the rises that agents on many nodes
 * see in one burst arrive within milliseconds of each other, and make one tick.
 */
const EARLY_TICK_GAP_MS = 500;
/** How long after its due time a tick may start (timers run late on a busy loop) before a wait for it gives up on it. */
const TICK_LATENESS_MS = 20;

export interface TickSchedule {
  /** The ticks' period (EBB_TICK_MS). */
  periodMs: number;
  /** The clock, in ms; performance.now() unless a test drives it. */
  now?: () => number;
  /** Resolves after `ms` of that clock. */
  sleep?: (ms: number) => Promise<void>;
}

/** The scaling tick, which background work steps aside for. */
export class TickGate {
  /** Settles (never fails) when the running tick has. */
  private running: Promise<void> | undefined;
  /** When the last tick started, on the schedule's clock (NaN before the first). */
  private lastStartedAt = NaN;
  /** When the last scheduled (not early) tick started: the next is due a period later. */
  private lastScheduledAt = NaN;
  private earlyTickWaiting = false;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly schedule?: TickSchedule) {
    this.now = schedule?.now ?? (() => performance.now());
    this.sleep = schedule?.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Runs the tick; background slices wait until it has settled. The gate is closed before the tick's
   * first line runs. An `early` tick (see early()) does not move the schedule the next tick is expected on.
   */
  async run<T>(tick: () => Promise<T>, kind: 'scheduled' | 'early' = 'scheduled'): Promise<T> {
    let settled!: () => void;
    const running = new Promise<void>((resolve) => (settled = resolve));
    this.running = running;
    this.lastStartedAt = this.now();
    if (kind === 'scheduled') this.lastScheduledAt = this.lastStartedAt;
    try {
      return await tick();
    } finally {
      if (this.running === running) this.running = undefined;
      settled();
    }
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** At once when no tick runs; else once it has settled (and any tick that started meanwhile). */
  async clear(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Once no tick runs and the next one is at least `neededMs` away: at once early in the gap
   * between two ticks, else right after the next tick. For work that would slow a tick it
   * overlapped rather than merely wait for it: pulling the agents' usage reports (megabytes at
   * 10,000 pods) queued the tick's activity requests behind them at the agents, and its answers
   * behind theirs on the controller's loop (bench:controller: the slowest ticks were those that
   * began beside a usage pull). Without a schedule, or before the first tick, the same as clear().
   * Gives up waiting after two periods: ticks that stopped do not hold the work forever.
   */
  async quiet(neededMs: number): Promise<void> {
    const periodMs = this.schedule?.periodMs;
    const giveUpAt = this.now() + 2 * (periodMs ?? 0);
    for (;;) {
      await this.clear();
      if (periodMs === undefined || Number.isNaN(this.lastScheduledAt) || this.now() >= giveUpAt) return;
      const untilNext = this.lastScheduledAt + periodMs - this.now();
      if (untilNext >= neededMs) return;
      await this.sleep(Math.max(untilNext, 0) + TICK_LATENESS_MS);
    }
  }

  /**
   * Runs `tick` ahead of the schedule, after any tick under way: at once, or EARLY_TICK_GAP_MS after
   * the last tick started when that is sooner (core/early-tick.ts); not at all when the scheduled
   * tick is due within that gap, or an early tick already waits to run.
   */
  early(tick: () => Promise<void>): void {
    const periodMs = this.schedule?.periodMs;
    if (periodMs === undefined || this.earlyTickWaiting) return;
    const now = this.now();
    const delayMs = earlyTickDelay({
      now,
      lastStartedAt: this.lastStartedAt,
      nextDueAt: this.lastScheduledAt + periodMs,
      minGapMs: Math.min(EARLY_TICK_GAP_MS, periodMs / 4),
    });
    if (delayMs === undefined) return;
    this.earlyTickWaiting = true;
    void this.sleep(delayMs)
      .then(() => this.clear())
      .then(() => {
        this.earlyTickWaiting = false;
        return this.run(tick, 'early');
      });
  }

  /** Runs `work` once no tick runs: what a tick may start but need not wait for (writes, Events). */
  async after<T>(work: () => Promise<T>): Promise<T> {
    await this.clear();
    return work();
  }
}

export class TimeSlices {
  private sliceStartedAt: number;

  constructor(
    private readonly gate: TickGate | undefined,
    private readonly sliceMs = DEFAULT_SLICE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.sliceStartedAt = now();
  }

  /**
   * At once while the current slice lasts and no tick runs; once the slice is used up, after one
   * turn of the event loop; while a tick runs, after it has settled.
   */
  async next(): Promise<void> {
    if (this.gate?.busy) {
      await this.gate.clear();
    } else {
      if (this.now() - this.sliceStartedAt < this.sliceMs) return;
      await new Promise((resolve) => setImmediate(resolve));
      await this.gate?.clear();
    }
    this.sliceStartedAt = this.now();
  }
}
