import { expect } from 'chai';
import { TimeSlices } from '../../../src/controller/time-slices.ts';

describe('time slices of the event loop', () => {
  it('goes on at once within a slice, and lets the event loop turn once the slice is used up', async () => {
    let clock = 0;
    const slices = new TimeSlices(5, () => clock);
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
    await new Promise((resolve) => setImmediate(resolve));
  });
});
