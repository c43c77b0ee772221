// Every decision says why, in words an app team can act on: the code is for metrics and tests, the
// message goes into Events and the `ebb.dev/status` annotation.
import { formatDuration } from '../duration.ts';

export type ReasonCode =
  | 'load' // following the stable-window concurrency
  | 'panic' // following the panic-window concurrency, or refusing to scale down while in panic
  | 'idle' // no request for idle-after: ebbing to zero
  | 'keep-warm' // raised to an active keep-warm window's floor
  | 'min' // raised to min-replicas
  | 'max' // capped at max-replicas
  | 'wake' // a request waits at the activator: at least one replica
  | 'unobserved' // ebb does not see all of the traffic: never idle, at least one replica
  | 'surge' // one replica more while a pod is replaced, or back when that is done
  | 'rate-limited' // the step was cut to the maximum scale-up or scale-down rate
  | 'scale-down-delay' // held at the highest count wanted during the scale-down delay
  | 'no-data' // no action: no fresh activity samples
  | 'paused' // no action: ebb.dev/paused
  | 'steady'; // the load asks for the current count

export interface Reason {
  code: ReasonCode;
  message: string;
}

/** `3 → 5` for a change, `holding 3` for none. */
export function describeStep(currentReplicas: number, desiredReplicas: number): string {
  return currentReplicas === desiredReplicas ? `holding ${desiredReplicas}` : `${currentReplicas} → ${desiredReplicas}`;
}

/** A concurrency for people: at most one decimal, no trailing zeros (`42`, `2.5`). */
export function formatConcurrency(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/**
 * A measured time span (since the last request, in panic, a sample's age), to the second: the
 * milliseconds of clocks are noise in a message. Configured durations use formatDuration as is.
 */
export function formatElapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds === 0 ? '0s' : formatDuration(seconds * 1000);
}
