import { expect } from 'chai';
import { concurrencyLimit } from '../../../src/kube/concurrency-limit.ts';

describe('concurrencyLimit', () => {
  it('runs at most N at once, all of them, failures included', async () => {
    const limited = concurrencyLimit(3);
    let running = 0;
    let most = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        limited(async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((resolve) => setTimeout(resolve, 1));
          running--;
          if (i % 5 === 0) throw new Error(`call ${i}`);
          return i;
        }),
      ),
    );
    expect(most).to.equal(3);
    expect(results.filter((result) => result.status === 'fulfilled')).to.have.length(16);
    expect(results.filter((result) => result.status === 'rejected')).to.have.length(4);
  });
});
