// The horizontal decider: activity + settings + now → desired replicas and why. Pure: time comes in
// as `now`, and what it must remember between ticks (panic, the scale-down delay, the last wake-up)
// goes out as `state`, which the caller hands back on the next tick. Modelled on knative/serving's
// pkg/autoscaler/scaling/autoscaler.go: a stable and a panic window, rate limits, a delay window.
//
// Order of the steps, each of which may bind (and then names the reason):
//   paused → no action; no fresh data → only the floor and the ceiling are enforced;
//   idle (no request for idle-after, nothing in flight, no floor) → 0;
//   load (stable window, or panic window while panicking) → rate limits → no scale-down in panic
//   → scale-down delay → floor (min-replicas, keep-warm, wake-up, unobserved traffic, a surge while
//   a pod is replaced) → ceiling (max-replicas).

import { formatDuration } from '../duration.ts';
import { describeWindow, keepWarmFloor } from '../keep-warm-schedule.ts';
import type { ScalingSettings } from '../settings.ts';
import type { ActivitySnapshot, ActivityWindow } from './activity-window.ts';
import { peakWanted, recordWanted, type RecentPeak } from './recent-peak.ts';
import { describeStep, formatConcurrency, formatElapsed, type Reason, type ReasonCode } from './reason.ts';
import { rememberedPerObject } from '../remembered.ts';

export interface DeciderTuning {
  /** The window whose mean concurrency drives scaling; the ActivityWindow's horizon covers it (activityHorizonMs). */
  stableWindowMs: number;
  /** The short window that detects a burst. */
  panicWindowMs: number;
  /** Panic when the panic window wants at least this many times the ready replicas. */
  panicThreshold: number;
  /** One decision scales up to at most this many times the ready replicas. */
  maxScaleUpRate: number;
  /** One decision scales down to no fewer than the ready replicas divided by this. */
  maxScaleDownRate: number;
  /** A newest sample older than this is no data: agents report every 1-2 s, so 3 missed reports. */
  staleAfterMs: number;
}

export const DEFAULT_TUNING: Readonly<DeciderTuning> = {
  stableWindowMs: 60_000,
  panicWindowMs: 6_000,
  panicThreshold: 2,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  staleAfterMs: 6_000,
};

/** What the decider remembers between ticks of one workload. Start with INITIAL_DECIDER_STATE. */
export interface DeciderState {
  /** Set while panicking; panic ends a stable window after the threshold was last crossed. */
  panic?: { since: number; lastTriggeredAt: number };
  /**
   * The counts wanted during the scale-down delay. Undefined means no history (a controller that
   * just started): the current count then counts as wanted now, so a restart never hurries a
   * scale-down.
   */
  recentWanted?: RecentPeak;
  /** The last wake-up: it counts as a request for idle-after, as the agents may not have reported it yet. */
  lastWakeAt?: number;
  /** The count when the current surge began: without activity data, the count returns to it when the surge ends. */
  surgedFrom?: number;
}

export const INITIAL_DECIDER_STATE: DeciderState = {};

export interface DecideInput {
  settings: ScalingSettings;
  /** The Deployment's spec.replicas. */
  currentReplicas: number;
  /** Ready pods; rates and the panic threshold are relative to these (default: currentReplicas). */
  readyReplicas?: number;
  activity: Pick<ActivityWindow, 'snapshot'>;
  now: number;
  state: DeciderState;
  /**
   * A request is waiting at the activator (an agent asked for a replica). Raises the floor to one
   * replica for this decision, even without activity data, and counts as a request for idle-after.
   * Scaling from zero is this flag's job; load alone scales from zero only if the agents report
   * the held requests as in flight.
   */
  wake?: boolean;
  /**
   * False when some of the workload's traffic goes around the interceptor (or there is no
   * interceptor): requests ebb cannot count cannot prove it idle, so it is never idle and keeps
   * at least one replica. Load that is counted still scales it up. Default true.
   */
  trafficObserved?: boolean;
  /**
   * A pod of the workload is being replaced (right-sizing, repair) and the workload holds one
   * replica more meanwhile (its only pod must not go before another is Ready): a floor, named by
   * `why`, while it is given. When it ends the load decides again; without activity data the
   * count returns to what it was, as the surge replica was ebb's own doing.
   */
  surge?: { replicas: number; why: string };
  tuning?: Partial<DeciderTuning>;
}

export interface Decision {
  /** The replica count to have; null = take no action (equal to currentReplicas = hold). */
  desiredReplicas: number | null;
  reason: Reason;
  /** Hand this back as `state` on the next tick. */
  state: DeciderState;
  /**
   * The mean in-flight concurrency over the stable window the decision saw (what `kubectl ebb
   * status` shows); absent when it was taken without fresh activity data or while paused.
   */
  inFlight?: number;
}

/** The tuning completed with the defaults: decide runs for every workload every tick, with the same tuning. Read only. */
const completed = rememberedPerObject((partial: Partial<DeciderTuning>): Readonly<DeciderTuning> => ({ ...DEFAULT_TUNING, ...partial }));
const completeTuning = (partial: Partial<DeciderTuning> | undefined) => (partial === undefined ? DEFAULT_TUNING : completed(partial));

/** The decision with the stable window's mean in flight it saw. */
const seeing = (decision: Decision, inFlight: number): Decision => ({
  desiredReplicas: decision.desiredReplicas,
  reason: decision.reason,
  state: decision.state,
  inFlight,
});

export function decide(input: DecideInput): Decision {
  const tuning = completeTuning(input.tuning);
  const { settings, currentReplicas: current, now } = input;
  if (settings.paused) return noAction('paused', 'paused', input.state);

  const state = nextSurgeState(input.wake ? { ...input.state, lastWakeAt: now } : input.state, input.surge, current);
  const floor = replicaFloor(settings, now, input.wake === true, input.trafficObserved !== false, input.surge);
  const activity = input.activity.snapshot(now, tuning);

  const missing = missingData(activity, now, tuning.staleAfterMs);
  if (missing !== undefined) {
    // Missing data never lowers the count, but for a surge replica ebb added itself; the floor and
    // the ceiling hold without it.
    const surgedFrom = input.surge === undefined ? input.state.surgedFrom : undefined;
    const held: Verdict =
      surgedFrom !== undefined && surgedFrom < current
        ? { replicas: surgedFrom, code: 'surge', detail: 'the surge replica is no longer needed' }
        : { replicas: current, code: 'no-data', detail: missing };
    const bounded = bound(held, floor, settings.maxReplicas, '');
    return bounded.replicas === current ? noAction('no-data', missing, state) : conclude(current, bounded, state);
  }

  const idleForMs = now - lastActiveAt(activity, state, now);
  const idle = activity.peakInFlight === 0 && idleForMs >= settings.idleAfterMs;
  if (idle && floor.replicas === 0) {
    const detail = `no request for ${formatElapsed(idleForMs)} (idle-after ${formatDuration(settings.idleAfterMs)})`;
    // Waking up starts afresh: no panic carried over, and no delay history to hold replicas up.
    const afresh: DeciderState = { lastWakeAt: state.lastWakeAt, recentWanted: [] };
    return seeing(conclude(current, { replicas: 0, code: 'idle', detail }, afresh), activity.stableInFlight);
  }

  return seeing(decideOnLoad(input, tuning, { activity, floor, idle }, state), activity.stableInFlight);
}

/** A step's outcome: the count so far and the constraint that set it. */
interface Verdict {
  replicas: number;
  code: ReasonCode;
  detail: string;
}

/** What decide() found before deciding on load: the activity, the floor, and whether the workload is idle. */
interface Findings {
  activity: ActivitySnapshot;
  floor: Floor;
  idle: boolean;
}

function decideOnLoad(input: DecideInput, tuning: DeciderTuning, { activity, floor, idle }: Findings, state: DeciderState): Decision {
  const { settings, currentReplicas: current, now } = input;
  const target = settings.targetConcurrency;
  // Rates and the panic threshold are relative to pods that serve; a workload at zero counts as one.
  const ready = Math.max(1, input.readyReplicas ?? current);

  const stableWants = Math.ceil(activity.stableInFlight / target);
  const panicWants = Math.ceil(activity.panicInFlight / target);
  const panic = nextPanic(state.panic, panicWants / ready >= tuning.panicThreshold, now, tuning.stableWindowMs);
  const followsPanicWindow = panic !== undefined && panicWants > stableWants;
  // A serving workload keeps one replica until it is idle: ebbing to zero is idle-after's call. An
  // idle one held up by its floor wants none, so the floor is named as the reason.
  const servingFloor = !idle && (current > 0 || activity.peakInFlight > 0) ? 1 : 0;
  const wanted = Math.max(followsPanicWindow ? panicWants : stableWants, servingFloor);

  const concurrency = followsPanicWindow
    ? `${formatConcurrency(activity.panicInFlight)} in flight over the last ${formatDuration(tuning.panicWindowMs)}`
    : `${formatConcurrency(activity.stableInFlight)} in flight`;
  const loadText = `${concurrency}, target ${target} per pod`;
  const loadWants = ` (load wants ${wanted}: ${loadText})`;

  let verdict: Verdict = panic ? { replicas: wanted, code: 'panic', detail: `panic, ${loadText}` } : { replicas: wanted, code: 'load', detail: loadText };
  verdict = limitRate(verdict, current, ready, tuning, loadWants);
  if (panic !== undefined && verdict.replicas < current) {
    const detail = `panic for ${formatElapsed(now - panic.since)}, no scale-down${loadWants}`;
    verdict = { replicas: current, code: 'panic', detail };
  }

  let recentWanted = state.recentWanted;
  const delayMs = settings.scaleDownDelayMs;
  if (delayMs > 0) {
    recentWanted = recordWanted(recentWanted ?? [{ at: now, replicas: current }], now, verdict.replicas, delayMs);
    verdict = delayScaleDown(verdict, recentWanted, delayMs, loadWants);
  }

  verdict = bound(verdict, floor, settings.maxReplicas, loadWants, wanted);
  if (verdict.code === 'load' && verdict.replicas === current) verdict = { ...verdict, code: 'steady' };
  return conclude(current, verdict, { panic, recentWanted, lastWakeAt: state.lastWakeAt, surgedFrom: state.surgedFrom });
}

/** Remembers the count a surge began from while it lasts, and forgets it once it ends. */
function nextSurgeState(state: DeciderState, surge: DecideInput['surge'], current: number): DeciderState {
  if (surge) return state.surgedFrom === undefined ? { ...state, surgedFrom: current } : state;
  if (state.surgedFrom === undefined) return state;
  const { surgedFrom: _ended, ...rest } = state;
  return rest;
}

function delayScaleDown(verdict: Verdict, recentWanted: RecentPeak, delayMs: number, loadWants: string): Verdict {
  const peak = peakWanted(recentWanted) ?? verdict.replicas;
  if (peak <= verdict.replicas) return verdict;
  const detail = `highest count wanted in the scale-down delay ${formatDuration(delayMs)}${loadWants}`;
  return { replicas: peak, code: 'scale-down-delay', detail };
}

/** knative's rule: enter on crossing the threshold, stay a stable window past the last crossing. */
function nextPanic(panic: DeciderState['panic'], overThreshold: boolean, now: number, stableWindowMs: number): DeciderState['panic'] {
  if (overThreshold) return { since: panic?.since ?? now, lastTriggeredAt: now };
  if (panic !== undefined && now - panic.lastTriggeredAt >= stableWindowMs) return undefined;
  return panic;
}

/** Rates are relative to the ready replicas, but never turn a wanted scale-up into a scale-down or back. */
function limitRate(verdict: Verdict, current: number, ready: number, tuning: DeciderTuning, loadWants: string): Verdict {
  const maxUp = Math.max(current, Math.ceil(tuning.maxScaleUpRate * ready));
  const minDown = Math.min(current, Math.floor(ready / tuning.maxScaleDownRate));
  if (verdict.replicas > maxUp) {
    const detail = `scale-up limited to ×${tuning.maxScaleUpRate} per decision${loadWants}`;
    return { replicas: maxUp, code: 'rate-limited', detail };
  }
  if (verdict.replicas < minDown) {
    const detail = `scale-down limited to ÷${tuning.maxScaleDownRate} per decision${loadWants}`;
    return { replicas: minDown, code: 'rate-limited', detail };
  }
  return verdict;
}

interface Floor {
  replicas: number;
  code: 'min' | 'keep-warm' | 'wake' | 'unobserved' | 'surge';
  text: string;
}

/**
 * The highest of min-replicas, the active keep-warm window, a wake-up, unobserved traffic and a
 * surge; ties go to the first of these.
 */
function replicaFloor(settings: ScalingSettings, now: number, wake: boolean, trafficObserved: boolean, surge: DecideInput['surge']): Floor {
  let floor: Floor = { replicas: settings.minReplicas, code: 'min', text: `min-replicas ${settings.minReplicas}` };
  const keepWarm = keepWarmFloor(settings.keepWarm, now);
  if (keepWarm.window !== undefined && keepWarm.replicas > floor.replicas) {
    floor = { replicas: keepWarm.replicas, code: 'keep-warm', text: `keep-warm ${describeWindow(keepWarm.window)}` };
  }
  if (wake && floor.replicas < 1) floor = { replicas: 1, code: 'wake', text: 'a request is waiting at the activator' };
  if (!trafficObserved && floor.replicas < 1) {
    floor = { replicas: 1, code: 'unobserved', text: 'ebb does not see all of its traffic, so it is never idle' };
  }
  if (surge && surge.replicas > floor.replicas) floor = { replicas: surge.replicas, code: 'surge', text: surge.why };
  return floor;
}

/**
 * The floor raises, max-replicas caps; a floor above max-replicas (a keep-warm window) gets
 * max-replicas. When the load wants fewer than the floor, the floor is what keeps the count there,
 * even if an earlier step (the scale-down delay, a rate limit) already held it at the floor: the
 * floor is named, not a delay that would end.
 */
function bound(verdict: Verdict, floor: Floor, maxReplicas: number, loadWants: string, loadWanted = verdict.replicas): Verdict {
  const floorReplicas = Math.min(floor.replicas, maxReplicas);
  if (verdict.replicas < floorReplicas || (loadWanted < floorReplicas && verdict.replicas === floorReplicas)) {
    return { replicas: floorReplicas, code: floor.code, detail: floor.text + loadWants };
  }
  if (verdict.replicas > maxReplicas) {
    return { replicas: maxReplicas, code: 'max', detail: `max-replicas ${maxReplicas}${loadWants}` };
  }
  return verdict;
}

/** Why the activity cannot be trusted, or undefined when it can. */
function missingData(activity: ActivitySnapshot, now: number, staleAfterMs: number): string | undefined {
  if (activity.latestSampleAt === undefined) return 'no activity samples yet';
  const ageMs = now - activity.latestSampleAt;
  if (ageMs > staleAfterMs) {
    return `newest activity sample is ${formatElapsed(ageMs)} old (stale after ${formatDuration(staleAfterMs)})`;
  }
  return undefined;
}

/**
 * The last sign of use: the last request or wake-up. With neither known (a new controller, no
 * status to seed from), the first sample stands in, so idleness is measured, never assumed.
 */
function lastActiveAt(activity: ActivitySnapshot, state: DeciderState, now: number): number {
  const lastRequestAt = activity.lastRequestAt ?? activity.observedSince ?? now;
  return Math.max(lastRequestAt, state.lastWakeAt ?? lastRequestAt);
}

function conclude(current: number, verdict: Verdict, state: DeciderState): Decision {
  const message = `${describeStep(current, verdict.replicas)}: ${verdict.detail}`;
  return { desiredReplicas: verdict.replicas, reason: { code: verdict.code, message }, state };
}

function noAction(code: 'paused' | 'no-data', why: string, state: DeciderState): Decision {
  return { desiredReplicas: null, reason: { code, message: `no action: ${why}` }, state };
}
