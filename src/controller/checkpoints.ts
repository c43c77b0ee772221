// The recommender's checkpoints, kept by the leader in a few shards (core/sizing/checkpoint-shards.ts).
// A shard is written when one of its workloads has new samples, or one came or went, and its last
// write is an interval old; a round writes at most its share of the shards (checkpointBudget), the
// longest-waiting first. A new shard count is a new set of objects: the old set stays whole until
// the shards of the new one hold every workload, and is deleted then (with any objects from before
// shards).
// Restoring reads every object and, for a workload found twice, keeps its newer checkpoint.

import { checkpointsInShard, nextShardCount, restoreOrder, shardOf, shardText, type FoundCheckpoint } from '../core/sizing/checkpoint-shards.ts';
import type { WorkloadRecommender } from '../core/sizing/workload-recommender.ts';
import type { SizingConfig } from '../core/recommender/index.ts';
import { concurrencyLimit } from '../kube/concurrency-limit.ts';
import { shardName, shardPosition, type StoredCheckpoints } from '../kube/sizing-checkpoints.ts';
import type { WorkloadKey } from '../protocol/workload.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { TickGate } from './time-slices.ts';

export interface CheckpointStorage {
  /** Every checkpoint object stored: the shards, and any one-workload objects from before shards. */
  list(): Promise<StoredCheckpoints[]>;
  write(name: string, text: string): Promise<void>;
  delete(name: string): Promise<void>;
}

export interface CheckpointOptions {
  store: CheckpointStorage;
  intervalMs: number;
  metrics: ControllerMetrics;
  tickGate?: TickGate;
  log(level: 'info' | 'warn', msg: string): void;
}

/** Newest sample per workload of a shard, when it was written. */
type ShardMembers = Map<WorkloadKey, number | null>;

const writes = concurrencyLimit(8);

export class SizingCheckpoints {
  /** The shard count in use. */
  private count = 1;
  /** Per shard of the count in use: when it was written (-Infinity: found when restoring), and what it held. */
  private readonly written = new Map<number, { at: number; members: ShardMembers }>();
  /** Stored objects that are not shards of the count in use: deleted once every shard of it is written. */
  private readonly strays = new Set<string>();
  private lastRoundAt: number | undefined;

  constructor(private readonly options: CheckpointOptions) {}

  /** Reads every stored checkpoint into `recommender`; returns how many workloads it restored. */
  async restore(recommender: WorkloadRecommender, config: SizingConfig): Promise<number> {
    const stored = await this.options.store.list();
    const found: FoundCheckpoint[] = [];
    for (const object of stored) {
      if (object.kind === 'workload') {
        found.push({ source: object.name, checkpoint: parsedOrUndefined(object.text) });
        continue;
      }
      const checkpoints = checkpointsInShard(object.text);
      if (checkpoints.ok) for (const checkpoint of checkpoints.value) found.push({ source: object.name, checkpoint });
      else this.options.log('warn', `checkpoints in ${object.name} not restored (their histories start again): ${checkpoints.error}`);
    }
    /** Each workload restored, and the object its (newest) checkpoint came from. */
    const restoredFrom = new Map<WorkloadKey, string>();
    for (const { source, checkpoint } of restoreOrder(found)) {
      const result = recommender.restore(checkpoint, config);
      if (result.ok) restoredFrom.set(result.value, source);
      else this.options.log('warn', `checkpoint in ${source} not restored (its history starts again): ${result.error}`);
    }

    const counts = stored.flatMap((object) => shardPosition(object.name)?.count ?? []);
    this.count = nextShardCount(Math.max(1, ...counts), recommender.containerCount());
    for (const object of stored) {
      const position = shardPosition(object.name);
      if (position?.count !== this.count || position.index >= this.count) this.strays.add(object.name);
      else this.written.set(position.index, { at: -Infinity, members: new Map() });
    }
    // What a found shard holds: the workloads restored from it. One restored from elsewhere (a stray)
    // is missing from its shard, which is therefore written before any stray is deleted.
    for (const [workload, source] of restoredFrom) {
      const position = shardPosition(source);
      if (position?.count === this.count) this.written.get(position.index)?.members.set(workload, recommender.newestSampleAt(workload));
    }
    return restoredFrom.size;
  }

  /** Writes the shards that are due, then deletes the strays once the shards of the count in use hold every workload. */
  async write(recommender: WorkloadRecommender, now: number): Promise<void> {
    const count = nextShardCount(this.count, recommender.containerCount());
    if (count !== this.count) {
      for (let index = 0; index < this.count; index++) this.strays.add(shardName(index, this.count));
      this.written.clear();
      this.count = count;
    }
    const members = Array.from({ length: count }, (): ShardMembers => new Map());
    for (const workload of recommender.workloads()) members[shardOf(workload, count)]!.set(workload, recommender.newestSampleAt(workload));

    const { intervalMs } = this.options;
    const lastAt = (index: number) => this.written.get(index)?.at ?? -Infinity;
    const due = members
      .flatMap((shard, index) => {
        const last = this.written.get(index);
        return !last || (now - last.at >= intervalMs && !sameMembers(last.members, shard)) ? [index] : [];
      })
      .sort((a, b) => lastAt(a) - lastAt(b))
      .slice(0, checkpointBudget(count, this.lastRoundAt === undefined ? 0 : now - this.lastRoundAt, intervalMs));
    this.lastRoundAt = now;
    await Promise.all(due.map((index) => writes(() => this.writeShard(recommender, index, members[index]!, now))));
    if (this.strays.size > 0 && this.holdsEveryWorkload(members)) await this.deleteStrays();
  }

  /** A replica that stops leading forgets: the next leader's checkpoints are the truth when it leads again. */
  clear(): void {
    this.count = 1;
    this.written.clear();
    this.strays.clear();
    this.lastRoundAt = undefined;
  }

  /** Whether every shard is stored and holds every workload that hashes to it (their samples may be older). */
  private holdsEveryWorkload(members: readonly ShardMembers[]): boolean {
    return members.every((shard, index) => {
      const stored = this.written.get(index)?.members;
      return stored !== undefined && [...shard.keys()].every((workload) => stored.has(workload));
    });
  }

  private async writeShard(recommender: WorkloadRecommender, index: number, members: ShardMembers, now: number): Promise<void> {
    await this.options.tickGate?.clear();
    const count = this.count;
    const name = shardName(index, count);
    const checkpoints = [...members.keys()].flatMap((workload) => recommender.checkpoint(workload) ?? []);
    try {
      await this.options.store.write(name, shardText(checkpoints));
      if (count === this.count) this.written.set(index, { at: now, members });
      this.options.metrics.checkpointWrites.inc({ outcome: 'written' });
    } catch (error) {
      this.options.metrics.checkpointWrites.inc({ outcome: 'failed' });
      this.options.log('warn', `checkpoint shard ${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async deleteStrays(): Promise<void> {
    await Promise.all(
      [...this.strays].map((name) =>
        writes(async () => {
          try {
            await this.options.store.delete(name);
            this.strays.delete(name);
          } catch (error) {
            this.options.log(
              'warn',
              `checkpoint object ${name} not deleted (tried again next round): ${error instanceof Error ? error.message : String(error)}`,
            );
          }
        }),
      ),
    );
  }
}

/** Shard writes a round may make however few shards there are. */
const MIN_CHECKPOINT_WRITES = 1;

/**
 * The shards' share of the interval that passed since the last round, half again for room to
 * catch up: each shard is written about once an interval, a backlog clears in a few rounds, and
 * shards first written together drift apart rather than all being due in the same round.
 */
export function checkpointBudget(shards: number, sinceLastRoundMs: number, intervalMs: number): number {
  return Math.max(MIN_CHECKPOINT_WRITES, Math.ceil(shards * Math.min(1, sinceLastRoundMs / intervalMs) * 1.5));
}

function sameMembers(before: ShardMembers, now: ShardMembers): boolean {
  if (before.size !== now.size) return false;
  for (const [workload, newest] of now) if (!before.has(workload) || before.get(workload) !== newest) return false;
  return true;
}

function parsedOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
