import { expect } from 'chai';
import { StatusChecks, StatusWrites } from '../../../src/controller/status-writes.ts';
import { TickGate } from '../../../src/controller/time-slices.ts';
import { eventually, until } from '../../fixtures/wait.ts';

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

describe('StatusChecks', () => {
  /** A tick the test ends: its gate is closed until `end()`. */
  function heldTick(gate: TickGate, during: () => void) {
    const tickEnds = heldWrite();
    const settled = gate.run(async () => {
      during();
      await tickEnds.done;
    });
    return { end: () => (tickEnds.finish(), settled) };
  }
  const turns = async (count: number) => {
    for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('runs the checks a tick asked for once it has settled, the newest per workload, in the order first asked', async () => {
    const gate = new TickGate();
    const ran: string[] = [];
    const checks = new StatusChecks<string>(
      gate,
      (check) => ran.push(check),
      () => undefined,
    );
    const tick = heldTick(gate, () => {
      checks.submit('shop/web', 'web, first decision');
      checks.submit('shop/api', 'api');
      checks.submit('shop/web', 'web, second decision');
    });
    await turns(5);
    expect(ran, 'nothing checked while the tick runs').to.deep.equal([]);
    await tick.end();
    await until('both checked', () => ran.length === 2);
    expect(ran).to.deep.equal(['web, second decision', 'api']);
    checks.submit('shop/web', 'web, outside a tick');
    await until('checked at once', () => ran.length === 3);
  });

  it('steps aside for a tick that starts while it runs, and goes on after it', async () => {
    const gate = new TickGate();
    const ran: string[] = [];
    let nextTick: { end: () => Promise<void> } | undefined;
    const checks = new StatusChecks<string>(
      gate,
      (check) => {
        ran.push(check);
        if (check === 'a') nextTick = heldTick(gate, () => undefined);
      },
      () => undefined,
    );
    checks.submit('shop/a', 'a');
    checks.submit('shop/b', 'b');
    await until('the first checked', () => ran.length === 1);
    await turns(5);
    expect(ran, 'nothing more while the new tick runs').to.deep.equal(['a']);
    await nextTick!.end();
    await until('the second checked', () => ran.length === 2);
  });

  it('reports a failing check by its key, and runs the others', async () => {
    const gate = new TickGate();
    const ran: string[] = [];
    const failures: string[] = [];
    const checks = new StatusChecks<string>(
      gate,
      (check) => {
        if (check === 'bad') throw new Error('no recommendation');
        ran.push(check);
      },
      (key, error) => failures.push(`${key}: ${String(error)}`),
    );
    checks.submit('shop/bad', 'bad');
    checks.submit('shop/good', 'good');
    await until('the good one checked', () => ran.length === 1);
    expect(failures).to.deep.equal(['shop/bad: Error: no recommendation']);
  });
});
