// The `ebb.dev/status` annotation on a Deployment: what ebb last decided for it and why, readable
// with `kubectl get deploy -o yaml` and by ebb itself (the webhook reads the recommendation from
// it). Fields written by other parts of ebb (the recommendation) are carried over untouched.

import type { Decision } from './decider/index.ts';

export interface StatusFields {
  desiredReplicas: number | null;
  reason: string;
  message: string;
  /** ISO time of the most recent request any agent saw. */
  lastRequestAt?: string;
  updatedAt: string;
}

/** How often a status whose decision did not change is refreshed (for lastRequestAt). */
export const STATUS_REFRESH_MS = 60_000;

export function statusFields(decision: Decision, lastRequestAt: number | undefined, now: number): StatusFields {
  return {
    desiredReplicas: decision.desiredReplicas,
    reason: decision.reason.code,
    message: decision.reason.message,
    ...(lastRequestAt !== undefined ? { lastRequestAt: new Date(lastRequestAt).toISOString() } : {}),
    updatedAt: new Date(now).toISOString(),
  };
}

/**
 * The new annotation text, or undefined when writing is not worth it: the decision and its reason
 * code are unchanged and the last write is recent. A changing message alone (the in-flight figure
 * moves every tick) does not cost an API write per workload per tick.
 */
export function nextStatus(current: string | undefined, fields: StatusFields, now: number): string | undefined {
  let previous: Record<string, unknown> = {};
  try {
    const parsed: unknown = current ? JSON.parse(current) : {};
    if (typeof parsed === 'object' && parsed !== null) previous = parsed as Record<string, unknown>;
  } catch {
    // An unreadable annotation is replaced.
  }
  const updatedAt = typeof previous.updatedAt === 'string' ? Date.parse(previous.updatedAt) : NaN;
  const sameDecision = previous.desiredReplicas === fields.desiredReplicas && previous.reason === fields.reason;
  if (sameDecision && now - updatedAt < STATUS_REFRESH_MS) return undefined;
  if (sameDecision && previous.lastRequestAt === fields.lastRequestAt && previous.message === fields.message) return undefined;
  return JSON.stringify({ ...previous, ...fields });
}
