// A clock the test holds: time moves only when the test says, and the timers due on the way run
// then, in time order. Nothing waits for real time.

import type { TimerClock } from '../../../agent/node/activator/clock.ts';

interface Timer {
  at: number;
  order: number;
  fn: () => void;
}

export class ManualClock implements TimerClock {
  private now = 1_000;
  private order = 0;
  private timers: Timer[] = [];

  monotonicMs(): number {
    return this.now;
  }

  epochMs(): number {
    return Date.UTC(2026, 0, 1) + this.now;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const timer = { at: this.now + Math.max(0, ms), order: this.order++, fn };
    this.timers.push(timer);
    return () => (this.timers = this.timers.filter((t) => t !== timer));
  }

  /** Moves time forward by `ms`, running each timer that falls due, at its own time. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const [next] = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.order - b.order);
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.now = next.at;
      next.fn();
    }
    this.now = until;
  }

  /** Timers not yet run. */
  pending(): number {
    return this.timers.length;
  }
}
