// A workload driven through the decider tick by tick: agents report every 2 s, the decider decides
// after each report, and its decision becomes the replica count, as the controller would apply it.
import { ActivityWindow } from '../../../src/core/decider/activity-window.ts';
import { decide, INITIAL_DECIDER_STATE } from '../../../src/core/decider/decide.ts';
import type { DeciderState, DeciderTuning, Decision } from '../../../src/core/decider/decide.ts';
import type { ScalingSettings } from '../../../src/core/settings.ts';

/** Monday 1 June 2026, 12:00 UTC (14:00 in Berlin). */
export const T0 = Date.UTC(2026, 5, 1, 12);
export const TICK_MS = 2000;
export const MINUTE_MS = 60_000;

export function scalingSettings(overrides: Partial<ScalingSettings> = {}): ScalingSettings {
  return {
    minReplicas: 0,
    maxReplicas: 10,
    targetConcurrency: 10,
    idleAfterMs: 15 * MINUTE_MS,
    scaleDownDelayMs: 0,
    keepWarm: [],
    paused: false,
    ...overrides,
  };
}

export class Workload {
  now: number;
  replicas: number;
  state: DeciderState = INITIAL_DECIDER_STATE;
  /** Whether ebb sees all of the workload's traffic, from now on. */
  trafficObserved = true;
  readonly activity: ActivityWindow;
  readonly #tuning: Partial<DeciderTuning> | undefined;

  constructor(
    readonly settings: ScalingSettings,
    options: { now?: number; replicas?: number; lastRequestAt?: number; tuning?: Partial<DeciderTuning> } = {},
  ) {
    this.now = options.now ?? T0;
    this.replicas = options.replicas ?? 1;
    this.activity = new ActivityWindow({ lastRequestAt: options.lastRequestAt });
    this.#tuning = options.tuning;
  }

  /**
   * For `durationMs`, agents report `inFlight` every 2 s, each report with a new request (by
   * default, when anything is in flight), and the decider ticks after each report.
   */
  run(durationMs: number, inFlight: number, { newRequests = inFlight > 0 } = {}): Decision[] {
    const decisions: Decision[] = [];
    for (let elapsed = TICK_MS; elapsed <= durationMs; elapsed += TICK_MS) {
      this.now += TICK_MS;
      this.activity.record({ at: this.now, inFlight, lastRequestAt: newRequests ? this.now : undefined });
      decisions.push(this.tick());
    }
    return decisions;
  }

  /** One decision at the current time, applied. */
  tick(options: { wake?: boolean; readyReplicas?: number } = {}): Decision {
    const decision = decide({
      settings: this.settings,
      currentReplicas: this.replicas,
      activity: this.activity,
      now: this.now,
      state: this.state,
      trafficObserved: this.trafficObserved,
      tuning: this.#tuning,
      ...options,
    });
    if (decision.desiredReplicas !== null) this.replicas = decision.desiredReplicas;
    this.state = decision.state;
    return decision;
  }
}

/** The replica count after each decision: [5, 5, 6, …]. */
export const replicasOf = (decisions: readonly Decision[]): (number | null)[] => decisions.map((d) => d.desiredReplicas);

/** Only the decisions that changed the count, as their messages. */
export function changes(decisions: readonly Decision[], startReplicas: number): string[] {
  const messages: string[] = [];
  let replicas = startReplicas;
  for (const decision of decisions) {
    if (decision.desiredReplicas !== null && decision.desiredReplicas !== replicas) {
      messages.push(decision.reason.message);
      replicas = decision.desiredReplicas;
    }
  }
  return messages;
}
