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

  describe('a quiet moment between ticks', () => {
    /** A gate on a driven clock: `sleep` moves the clock and lets the test act at that moment. */
    const drivenGate = (periodMs: number, onSleep: (until: number) => void = () => undefined) => {
      const clock = { at: 0, slept: [] as number[] };
      const gate = new TickGate({
        periodMs,
        now: () => clock.at,
        sleep: (ms) => {
          clock.slept.push(ms);
          clock.at += ms;
          onSleep(clock.at);
          return Promise.resolve();
        },
      });
      return { gate, clock };
    };
    const endlessTick = (gate: TickGate, order: string[]) => {
      let end!: () => void;
      const done = gate.run(async () => {
        order.push('tick starts');
        await new Promise<void>((resolve) => (end = resolve));
        order.push('tick ends');
      });
      return { done, end: () => end() };
    };
    /** A tick at the clock's time 0 that has already settled. */
    const tickedAtZero = async (gate: TickGate) => {
      const tick = endlessTick(gate, []);
      tick.end();
      await tick.done;
    };

    it('goes on at once early in the gap, and before the first tick', async () => {
      const { gate, clock } = drivenGate(2000);
      await gate.quiet(1000);
      await tickedAtZero(gate);
      clock.at = 999;
      await gate.quiet(1000);
      expect(clock.slept, 'never slept: 1,001 ms to the next tick').to.deep.equal([]);
    });

    it('late in the gap, waits for the next tick to run and settle', async () => {
      const order: string[] = [];
      let next: { done: Promise<void>; end: () => void } | undefined;
      const { gate, clock } = drivenGate(2000, (at) => {
        if (at >= 2000 && !next) next = endlessTick(gate, order);
      });
      await tickedAtZero(gate);
      clock.at = 1200;
      const pull = gate.quiet(1000).then(() => order.push('pull'));
      for (let turn = 0; turn < 5; turn++) await turnOfTheLoop();
      expect(order, 'the pull waits behind the tick due in 800 ms').to.deep.equal(['tick starts']);
      next!.end();
      await pull;
      expect(order).to.deep.equal(['tick starts', 'tick ends', 'pull']);
      expect(clock.slept, 'slept until the tick was due, and a little').to.deep.equal([820]);
    });

    it('an early tick runs at once mid-gap, once however often it is asked for, and leaves the schedule as it was', async () => {
      const { gate, clock } = drivenGate(2000);
      await tickedAtZero(gate);
      clock.at = 900;
      const ran: number[] = [];
      const early = () => (ran.push(clock.at), Promise.resolve());
      gate.early(early);
      gate.early(early);
      for (let turn = 0; turn < 5; turn++) await turnOfTheLoop();
      expect(ran).to.deep.equal([900]);
      clock.at = 1100;
      await gate.quiet(1000);
      expect(clock.slept.slice(0, 2), 'the early tick at once; the pull waits for the scheduled tick due at 2000, not 2900').to.deep.equal([0, 920]);
    });

    it('an early tick waits a quarter period after the last tick, and for a tick under way; none when the next is due within that quarter', async () => {
      const order: string[] = [];
      const { gate, clock } = drivenGate(2000);
      const running = endlessTick(gate, order);
      clock.at = 100;
      gate.early(() => (order.push(`early at ${clock.at}`), Promise.resolve()));
      for (let turn = 0; turn < 5; turn++) await turnOfTheLoop();
      expect(clock.slept, 'slept until 500 ms after the tick started').to.deep.equal([400]);
      expect(order, 'behind the tick under way').to.deep.equal(['tick starts']);
      running.end();
      await running.done;
      for (let turn = 0; turn < 5; turn++) await turnOfTheLoop();
      expect(order).to.deep.equal(['tick starts', 'tick ends', 'early at 500']);
      clock.at = 1600;
      gate.early(() => (order.push('too late'), Promise.resolve()));
      for (let turn = 0; turn < 5; turn++) await turnOfTheLoop();
      expect(order.at(-1)).to.equal('early at 500');
    });

    it('gives up on ticks that stopped after two periods', async () => {
      const { gate, clock } = drivenGate(2000);
      await tickedAtZero(gate);
      clock.at = 1500;
      await gate.quiet(1000);
      expect(clock.at, 'waited past the missed tick, not forever').to.be.within(5500, 5600);
    });
  });
});
