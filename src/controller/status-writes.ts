// Status writes come in bursts (every workload's first decision, then its first recommendation). They
// run behind the tick, a few at a time: a thousand at once opened a thousand connections (the RSS
// doubled) and held the tick, and with it every workload's next decision, for seconds. At most one
// write per workload is pending; a newer text waits for the next tick. A write starts once the
// tick that submitted it has settled (time-slices.ts): sending it is work the tick need not wait for.
// At most `maxPending` writes wait or run: when every workload's recommendation moves at once (or
// a new leader writes them all), building a thousand texts in one tick only to queue them behind
// each other took 40–70 ms of that tick (bench:controller profile); the rest are checked again at
// the next ticks, as the queue drains.

import { concurrencyLimit } from '../kube/concurrency-limit.ts';
import { TimeSlices, type TickGate } from './time-slices.ts';

export class StatusWrites {
  private readonly pending = new Set<string>();
  private readonly limit: <T>(work: () => Promise<T>) => Promise<T>;

  constructor(
    concurrency: number,
    private readonly onError: (key: string, error: unknown) => void,
    private readonly tickGate?: TickGate,
    private readonly maxPending = Infinity,
  ) {
    this.limit = concurrencyLimit(concurrency);
  }

  /** Whether a write for `key` waits or runs: a newer one is not worth computing yet. */
  isPending(key: string): boolean {
    return this.pending.has(key);
  }

  /** Whether another write can be queued now: when not, a text is not worth computing yet. */
  hasRoom(): boolean {
    return this.pending.size < this.maxPending;
  }

  /** Queues the write, unless one for `key` is pending or the queue is full; false when it was not queued. Never waits. */
  submit(key: string, write: () => Promise<unknown>): boolean {
    if (this.pending.has(key) || !this.hasRoom()) return false;
    this.pending.add(key);
    void this.limit(() => (this.tickGate ? this.tickGate.after(write) : write()))
      .catch((error: unknown) => this.onError(key, error))
      .finally(() => this.pending.delete(key));
    return true;
  }
}

/**
 * Each workload's status check, run once the tick that asked for it has settled. Building the text
 * (the decision's fields, the recommendation, the comparison with the annotation) is bookkeeping
 * that a tick's decisions and scale writes need not wait for: inside the tick it was about a sixth
 * of the tick's own CPU (bench:controller profile), and each workload later in the tick's order
 * waited for every earlier one's. The newest check per workload is kept, in the order workloads
 * were first asked for; they run in slices, each yielding to a tick that starts meanwhile.
 */
export class StatusChecks<Check> {
  private readonly waiting = new Map<string, Check>();
  private draining = false;

  constructor(
    private readonly tickGate: TickGate,
    private readonly run: (check: Check) => void,
    private readonly onError: (key: string, error: unknown) => void,
  ) {}

  /** Queues the check (replacing an older one for `key` that has not run yet). Never waits. */
  submit(key: string, check: Check): void {
    this.waiting.set(key, check);
    if (this.draining) return;
    this.draining = true;
    void this.drain().finally(() => (this.draining = false));
  }

  private async drain(): Promise<void> {
    const slices = new TimeSlices(this.tickGate);
    for (;;) {
      await slices.next();
      const next = this.waiting.entries().next();
      if (next.done) return;
      const [key, check] = next.value;
      this.waiting.delete(key);
      try {
        this.run(check);
      } catch (error) {
        this.onError(key, error);
      }
    }
  }
}
