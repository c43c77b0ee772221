// How long the resizer holds back after a resize the kubelet failed to apply (PodResizeInProgress,
// reason Error) or the API server refused: doubling from 30 s up to 10 min, and never for good. The
// VPA updater once remembered a transient Error as Infeasible until it restarted
// (kubernetes/autoscaler #10093); a pod here is always tried again.

const FIRST_MS = 30_000;
const LONGEST_MS = 10 * 60_000;

/** The delay before attempt `attempt + 1`, after `attempt` (≥ 1) failures in a row. */
export function retryDelayMs(attempt: number): number {
  return Math.min(LONGEST_MS, FIRST_MS * 2 ** Math.max(0, attempt - 1));
}
