import { expect } from 'chai';
import fc from 'fast-check';
import { checkpointsInShard, CONTAINERS_PER_SHARD, nextShardCount, restoreOrder, shardOf, shardText } from '../../../src/core/sizing/checkpoint-shards.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';

describe('checkpoint shards', () => {
  it('doubles the count while a shard would hold too many containers, and halves it only once a quarter would do', () => {
    expect(nextShardCount(1, 0)).to.equal(1);
    expect(nextShardCount(1, CONTAINERS_PER_SHARD)).to.equal(1);
    expect(nextShardCount(1, CONTAINERS_PER_SHARD + 1)).to.equal(2);
    expect(nextShardCount(1, 2_000)).to.equal(16);
    // Near a boundary the count stays where it is.
    expect(nextShardCount(16, 1_500)).to.equal(16);
    expect(nextShardCount(16, 801)).to.equal(16);
    expect(nextShardCount(16, 800)).to.equal(8);
    expect(nextShardCount(16, 0)).to.equal(1);
  });

  it('gives a count that always has room, a power of two', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1024 }), fc.integer({ min: 0, max: 200_000 }), (exponentSource, containers) => {
        const current = 2 ** Math.floor(Math.log2(exponentSource));
        const count = nextShardCount(current, containers);
        expect(Number.isInteger(Math.log2(count))).to.equal(true);
        expect(containers).to.be.at.most(count * CONTAINERS_PER_SHARD);
        expect(count === 1 || containers > (count / 4) * CONTAINERS_PER_SHARD).to.equal(true);
      }),
    );
  });

  it('keeps a workload in the same shard, splits a shard in two when the count doubles, and spreads the workloads', () => {
    const workloads = Array.from({ length: 2_000 }, (_, i) => `team-${i % 7}/app-${i}` as WorkloadKey);
    for (const workload of workloads) {
      const half = shardOf(workload, 8);
      expect(shardOf(workload, 8)).to.equal(half);
      expect([half, half + 8]).to.include(shardOf(workload, 16));
    }
    const sizes = new Array<number>(16).fill(0);
    for (const workload of workloads) sizes[shardOf(workload, 16)]!++;
    // 125 each on average.
    expect(Math.min(...sizes)).to.be.at.least(90);
    expect(Math.max(...sizes)).to.be.at.most(160);
  });

  it('reads back the checkpoints it wrote, and says why a text is not a shard', () => {
    expect(checkpointsInShard(shardText([{ v: 1, workload: 'shop/web' }]))).to.deep.equal({ ok: true, value: [{ v: 1, workload: 'shop/web' }] });
    expect(checkpointsInShard('{"v":2,"checkpoints":[]}')).to.deep.equal({ ok: false, error: 'shard version 2 is not accepted: expected 1' });
    expect(checkpointsInShard('[]')).to.deep.equal({ ok: false, error: 'shard version undefined is not accepted: expected 1' });
    expect(checkpointsInShard('null')).to.deep.equal({ ok: false, error: 'a shard must be a JSON object' });
    expect(checkpointsInShard('{"v":1}')).to.deep.equal({ ok: false, error: 'a shard must hold a "checkpoints" array' });
    const notJson = checkpointsInShard('{oops');
    expect(notJson.ok).to.equal(false);
    expect(!notJson.ok && notJson.error).to.match(/^not JSON \(/);
  });

  it('restores a workload found twice from its newer checkpoint, whatever order the objects came in', () => {
    const older = { source: 'ebb-sizing-0-of-1', checkpoint: { workload: 'shop/web', newestSampleAt: 1_000 } };
    const newer = { source: 'ebb-sizing-1-of-2', checkpoint: { workload: 'shop/web', newestSampleAt: 2_000 } };
    const unreadable = { source: 'ebb-sizing.shop.web', checkpoint: undefined };
    expect(restoreOrder([newer, older, unreadable])).to.deep.equal([unreadable, older, newer]);
    expect(restoreOrder([older, newer])).to.deep.equal([older, newer]);
  });
});
