import { expect } from 'chai';
import { StatusWrites } from '../../../src/controller/status-writes.ts';
import { TickGate } from '../../../src/controller/time-slices.ts';
import { eventually } from '../../fixtures/wait.ts';

/** A write the test finishes: it resolves (or fails) when told to. */
function heldWrite() {
  let finish!: (error?: Error) => void;
  const done = new Promise<void>((resolve, reject) => (finish = (error) => (error ? reject(error) : resolve())));
  return { done, finish };
}

describe('StatusWrites', () => {
  it('runs at most `concurrency` writes at once, the others in turn', async () => {
    const writes = new StatusWrites(2, () => undefined);
    const held = ['a', 'b', 'c'].map(() => heldWrite());
    const started: string[] = [];
    ['a', 'b', 'c'].forEach((key, index) => writes.submit(key, () => (started.push(key), held[index]!.done)));
    await eventually('two writes started', () => (started.length === 2 ? true : undefined), 5_000);
    expect(started).to.deep.equal(['a', 'b']);
    held[0]!.finish();
    await eventually('the third write started', () => (started.length === 3 ? true : undefined), 5_000);
    held[1]!.finish();
    held[2]!.finish();
    await eventually('every write done', () => (['a', 'b', 'c'].every((key) => !writes.isPending(key)) ? true : undefined), 5_000);
  });

  it('keeps at most one write per key pending: a newer one waits for the next tick', async () => {
    const writes = new StatusWrites(4, () => undefined);
    const first = heldWrite();
    expect(writes.submit('shop/web', () => first.done)).to.equal(true);
    expect(writes.isPending('shop/web')).to.equal(true);
    expect(writes.submit('shop/web', () => Promise.resolve())).to.equal(false);
    first.finish();
    await eventually('the write done', () => (writes.isPending('shop/web') ? undefined : true), 5_000);
    expect(writes.submit('shop/web', () => Promise.resolve())).to.equal(true);
  });

  it('holds at most `maxPending` writes, waiting or running, and takes more as they finish', async () => {
    const writes = new StatusWrites(1, () => undefined, undefined, 2);
    const held = [heldWrite(), heldWrite()];
    expect(writes.submit('shop/a', () => held[0]!.done)).to.equal(true);
    expect(writes.hasRoom()).to.equal(true);
    expect(writes.submit('shop/b', () => held[1]!.done)).to.equal(true);
    expect(writes.hasRoom()).to.equal(false);
    expect(writes.submit('shop/c', () => Promise.resolve())).to.equal(false);
    expect(writes.isPending('shop/c')).to.equal(false);
    held[0]!.finish();
    await eventually('room again', () => (writes.hasRoom() ? true : undefined), 5_000);
    expect(writes.submit('shop/c', () => Promise.resolve())).to.equal(true);
    held[1]!.finish();
  });

  it('reports a failed write with its key and frees the key', async () => {
    const failures: string[] = [];
    const writes = new StatusWrites(1, (key, error) => failures.push(`${key}: ${String(error)}`));
    const write = heldWrite();
    writes.submit('shop/web', () => write.done);
    write.finish(new Error('conflict'));
    await eventually('the failure reported', () => (failures.length === 1 ? true : undefined), 5_000);
    expect(failures).to.deep.equal(['shop/web: Error: conflict']);
    await eventually('the key free', () => (writes.isPending('shop/web') ? undefined : true), 5_000);
  });

  it('starts a write submitted during a tick once that tick has settled', async () => {
    const gate = new TickGate();
    const writes = new StatusWrites(4, () => undefined, gate);
    const order: string[] = [];
    const tickEnds = heldWrite();
    const tick = gate.run(async () => {
      writes.submit('shop/web', () => Promise.resolve(void order.push('write starts')));
      await tickEnds.done;
      order.push('tick ends');
    });
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(order, 'nothing sent while the tick runs').to.deep.equal([]);
    tickEnds.finish();
    await tick;
    await eventually('the write done', () => (writes.isPending('shop/web') ? undefined : true), 5_000);
    expect(order).to.deep.equal(['tick ends', 'write starts']);
  });
});
