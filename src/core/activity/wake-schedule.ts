// When the activator should ask the controller to wake a workload: once per episode (from the
// first held request until the workload's queue is empty again), however many requests wait;
// again only if asking failed, after an exponential backoff. Pure: time is passed in (ms).

import type { WorkloadKey } from '../../protocol/workload.ts';

interface WakeState {
  pending: boolean;
  accepted: boolean;
  failures: number;
  nextAttemptAt: number;
}

export class WakeSchedule {
  private readonly states = new Map<WorkloadKey, WakeState>();

  constructor(
    private readonly initialBackoffMs = 250,
    private readonly maxBackoffMs = 5_000,
  ) {}

  /** True when a wake call should be made now; the caller then reports its outcome. */
  due(workload: WorkloadKey, nowMs: number): boolean {
    const state = this.states.get(workload);
    if (!state) return true;
    return !state.pending && !state.accepted && nowMs >= state.nextAttemptAt;
  }

  started(workload: WorkloadKey): void {
    const state = this.states.get(workload) ?? { pending: false, accepted: false, failures: 0, nextAttemptAt: 0 };
    state.pending = true;
    this.states.set(workload, state);
  }

  succeeded(workload: WorkloadKey): void {
    const state = this.states.get(workload);
    if (!state) return;
    state.pending = false;
    state.accepted = true;
  }

  failed(workload: WorkloadKey, nowMs: number): void {
    const state = this.states.get(workload);
    if (!state) return;
    state.pending = false;
    state.failures += 1;
    state.nextAttemptAt = nowMs + Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (state.failures - 1));
  }

  /** Milliseconds until the next retry is due, or undefined when none is waiting. */
  retryIn(workload: WorkloadKey, nowMs: number): number | undefined {
    const state = this.states.get(workload);
    if (!state || state.pending || state.accepted) return undefined;
    return Math.max(0, state.nextAttemptAt - nowMs);
  }

  /** The episode is over (nothing held any more): the next held request asks again. */
  reset(workload: WorkloadKey): void {
    this.states.delete(workload);
  }
}
