import { expect } from 'chai';
import { TickGate, TimeSlices } from '../../../src/controller/time-slices.ts';

const turnOfTheLoop = () => new Promise((resolve) => setImmediate(resolve));

describe('time slices of the event loop', () => {
  it('goes on at once within a slice, and lets the event loop turn once the slice is used up', async () => {
    let clock = 0;
    const slices = new TimeSlices(undefined, 5, () => clock);
    const turned: number[] = [];
    setImmediate(() => turned.push(1));
    clock = 4.9;
    await slices.next();
    expect(turned, 'within the slice: nothing else ran').to.deep.equal([]);
    clock = 5;
    await slices.next();
    expect(turned, 'the slice used up: what waited for the loop ran first').to.deep.equal([1]);
    setImmediate(() => turned.push(2));
    clock = 9.9;
    await slices.next();
    expect(turned, 'a new slice starts after the turn').to.deep.equal([1]);
    await turnOfTheLoop();
  });

  it('waits while a tick runs, even within its slice, and goes on once the tick has settled', async () => {
    const gate = new TickGate();
    const slices = new TimeSlices(gate, 5, () => 0);
    const order: string[] = [];
    let endTick!: () => void;
    const tick = gate.run(async () => {
      order.push('tick starts');
      await new Promise<void>((resolve) => (endTick = resolve));
      order.push('tick ends');
    });
    const background = slices.next().then(() => order.push('background goes on'));
    for (let turn = 0; turn < 5; turn++) await turnOfTheLoop();
    expect(order, 'the background waits for the whole tick').to.deep.equal(['tick starts']);
    endTick();
    await Promise.all([tick, background]);
    expect(order).to.deep.equal(['tick starts', 'tick ends', 'background goes on']);
    expect(gate.busy).to.equal(false);
  });

  it('lets background work go on after a tick that failed, and hands the failure to the tick caller', async () => {
    const gate = new TickGate();
    const tick = gate.run(() => Promise.reject(new Error('agents unreachable')));
    const cleared = gate.clear();
    const failure = await tick.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(String(failure)).to.include('agents unreachable');
    await cleared;
    expect(gate.busy).to.equal(false);
  });
});
