import { expect } from 'chai';
import { keepLastGood } from '../../../src/core/last-good.ts';
import { BUILT_IN_DEFAULTS } from '../../../src/core/setting-schema.ts';

describe('keeping the last good settings', () => {
  const lastGood = { ...BUILT_IN_DEFAULTS, 'min-replicas': 2, 'target-concurrency': 7 };

  it('keeps the previous value of a setting whose new value was rejected', () => {
    const resolved = { ...BUILT_IN_DEFAULTS, 'target-concurrency': 20 };
    const error = { key: 'ebb.dev/min-replicas', value: '-1', message: 'x', setting: 'min-replicas' as const };
    const kept = keepLastGood(resolved, [error], lastGood);
    expect(kept['min-replicas']).to.equal(2);
    expect(kept['target-concurrency']).to.equal(20);
  });

  it('takes the resolution as it is without errors or without a previous value', () => {
    const resolved = { ...BUILT_IN_DEFAULTS, 'min-replicas': 5 };
    expect(keepLastGood(resolved, [], lastGood)).to.equal(resolved);
    expect(keepLastGood(resolved, [{ key: 'k', value: 'v', message: 'm', setting: 'min-replicas' }], undefined)).to.equal(resolved);
  });
});
