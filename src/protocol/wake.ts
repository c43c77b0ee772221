// agent → controller: `POST /wake` when the activator holds a request for a workload at zero.
// Sent once per workload while requests wait (retried with backoff if it fails), with the agent's
// projected service-account token as a bearer token (audience ebb.dev).

import { parseWorkloadKey, type WorkloadKey } from './workload.ts';

export const WAKE_PATH = '/wake';

export interface WakeRequest {
  workload: WorkloadKey;
  /** The Service the held request was addressed to, when known. */
  service?: { namespace: string; name: string };
  /** The node of the asking agent (for events and logs). */
  node: string;
  /** How many requests the agent holds for the workload when it asks. */
  held: number;
}

export interface WakeResponse {
  /** True when the controller has asked for (or already had) at least one replica. */
  accepted: boolean;
  /** Why not, when not accepted (e.g. paused, unknown workload). */
  reason?: string;
}

export function isWakeRequest(value: unknown): value is WakeRequest {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.workload === 'string' && parseWorkloadKey(v.workload) !== undefined && typeof v.node === 'string' && typeof v.held === 'number';
}
