// Which workloads' load rose on this node since the controller last read it. The controller reads
// every agent once per tick (2 s), so a burst that begins just after a read waited a whole tick
// before anything decided on it. The agent compares each scrape round (every second) with what it
// last reported, and the controller, which waits on the agent for such a rise, runs a tick at once
// (protocol/activity.ts, ACTIVITY_RISES_PATH). Pure: the caller says when a report went out and what
// each round saw.

import type { WorkloadTotals } from '../../protocol/activity.ts';
import type { WorkloadKey } from '../../protocol/workload.ts';

/** What counts as a rise: a load at least `factor` times, and `minIncrease` more than, the figure last reported. */
export interface RiseRule {
  factor: number;
  minIncrease: number;
}

/**
 * Twice the load is what the decider's panic mode reacts to (a panic window's mean at twice what
 * the replicas serve); two requests more keeps one request's coming and going at a quiet workload
 * from waking the controller every second.
 */
export const DEFAULT_RISE_RULE: RiseRule = { factor: 2, minIncrease: 2 };

/**
 * A workload's figures on the node (protocol/activity.ts). Its load is what the decider reads: the
 * mean in flight over the agent's window plus what the activator holds. Not the instantaneous
 * count: a tick run on a burst that the window's mean does not show yet would decide nothing.
 */
export type LoadFigure = Pick<WorkloadTotals, 'workload' | 'meanInFlight' | 'held'>;

const loadOf = (figure: LoadFigure) => figure.meanInFlight + figure.held;

export interface RiseAnswer {
  sequence: number;
  workloads: WorkloadKey[];
}

export class RiseWatch {
  /** In flight per workload in the last report the controller read. */
  private reported = new Map<WorkloadKey, number>();
  /** Workloads already announced since that report: a rise is announced once until the next read. */
  private readonly announced = new Set<WorkloadKey>();
  private risesSeen = 0;

  constructor(private readonly rule: RiseRule = DEFAULT_RISE_RULE) {}

  /** The controller read this report: rises are measured from it again. */
  reportRead(figures: readonly LoadFigure[]): void {
    this.reported = new Map(figures.map((figure) => [figure.workload, loadOf(figure)]));
    this.announced.clear();
  }

  /** A scrape round's figures; true when a workload rose that was not announced yet (the sequence moved). */
  observe(figures: readonly LoadFigure[]): boolean {
    const newly = figures.filter((figure) => !this.announced.has(figure.workload) && this.rose(figure));
    if (newly.length === 0) return false;
    for (const figure of newly) this.announced.add(figure.workload);
    this.risesSeen += 1;
    return true;
  }

  /**
   * What a caller waiting for rises gets: undefined while nothing happened since the sequence it
   * `saw` (it keeps waiting), else the current sequence and every workload that rose since the
   * controller last read the report. A caller without a sequence (its first question), or with one
   * from before this agent restarted, gets the sequence at once and no workloads: it learns where
   * the count stands, and is told only of rises from then on.
   */
  answerFor(saw: number | undefined): RiseAnswer | undefined {
    if (saw === this.risesSeen) return undefined;
    const known = saw !== undefined && saw < this.risesSeen;
    return { sequence: this.risesSeen, workloads: known ? [...this.announced] : [] };
  }

  /** How many rises this watch has seen: the sequence its answers carry. */
  get sequence(): number {
    return this.risesSeen;
  }

  private rose(figure: LoadFigure): boolean {
    const before = this.reported.get(figure.workload) ?? 0;
    const now = loadOf(figure);
    return now >= before * this.rule.factor && now - before >= this.rule.minIncrease;
  }
}
