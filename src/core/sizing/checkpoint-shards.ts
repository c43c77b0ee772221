// The recommender's checkpoints are stored a few hundred containers to an object ("a shard"), not
// one object per workload. One ConfigMap per workload, rewritten every minute, was 1,000 API
// writes a minute at 1,000 workloads — each a request for the API server and etcd to serve and
// for the controller's event loop to encode, for 0.9 KiB of data (bench:controller). A workload's
// shard is its key's hash modulo the shard count, a power of two: when the count doubles each
// shard splits in two, and when it halves pairs merge, so nothing else moves.

import type { WorkloadKey } from '../../protocol/workload.ts';
import type { Result } from '../result.ts';
import { fnv1a } from '../hash.ts';

/**
 * Containers per shard, at most, before the count doubles. A container's checkpoint is at most
 * 2 KiB (about 0.45 KiB typical), so a full shard is under 400 KiB and an uneven hash stays well
 * under a ConfigMap's 1 MiB.
 */
export const CONTAINERS_PER_SHARD = 200;

/**
 * The shard count for `containers`, from the count in use: doubled while it holds too few, halved
 * only once a quarter of it would do, so that a cluster near a boundary does not rewrite every
 * shard each time a workload comes or goes.
 */
export function nextShardCount(current: number, containers: number): number {
  let count = Math.max(1, current);
  while (containers > count * CONTAINERS_PER_SHARD) count *= 2;
  while (count > 1 && containers <= (count / 4) * CONTAINERS_PER_SHARD) count /= 2;
  return count;
}

export function shardOf(workload: WorkloadKey, count: number): number {
  return fnv1a(workload) % count;
}

/** The text of a shard: its workloads' checkpoints, versioned. */
export function shardText(checkpoints: readonly unknown[]): string {
  return JSON.stringify({ v: 1, checkpoints });
}

/** The checkpoints in a shard's text, each still to be validated on its own. */
export function checkpointsInShard(text: string): Result<unknown[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (typeof parsed !== 'object' || parsed === null) return { ok: false, error: 'a shard must be a JSON object' };
  const { v, checkpoints } = parsed as { v?: unknown; checkpoints?: unknown };
  if (v !== 1) return { ok: false, error: `shard version ${JSON.stringify(v)} is not accepted: expected 1` };
  if (!Array.isArray(checkpoints)) return { ok: false, error: 'a shard must hold a "checkpoints" array' };
  return { ok: true, value: checkpoints };
}

/** A checkpoint read back, and the stored object it came from (for the logs). */
export interface FoundCheckpoint {
  source: string;
  checkpoint: unknown;
}

/**
 * The checkpoints to restore, oldest first by their newest sample: a workload found twice (a
 * leader stopped while the objects of a new shard count were being written) ends with its newer one.
 */
export function restoreOrder(found: readonly FoundCheckpoint[]): FoundCheckpoint[] {
  const newest = ({ checkpoint }: FoundCheckpoint) => {
    const at = (checkpoint as { newestSampleAt?: unknown } | null | undefined)?.newestSampleAt;
    return typeof at === 'number' ? at : -Infinity;
  };
  return [...found].sort((a, b) => newest(a) - newest(b));
}
