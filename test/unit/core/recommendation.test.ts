import { expect } from 'chai';
import fc from 'fast-check';
import { statusRecommendation, targetsOf } from '../../../src/core/recommendation.ts';
import type { ContainerRecommendation } from '../../../src/core/recommender/index.ts';

const recommendationOf = (cpuMillis: number, memoryBytes: number, raiseOnly: boolean): ContainerRecommendation => ({
  cpu: { targetMillis: cpuMillis, lowerMillis: Math.floor(cpuMillis / 2), upperMillis: cpuMillis * 2 },
  memory: { targetBytes: memoryBytes, lowerBytes: Math.floor(memoryBytes / 2), upperBytes: memoryBytes * 2 },
  confidence: 0.5,
  newestSampleAt: 0,
  oomAtMemoryMax: false,
  raiseOnly,
});

describe('status recommendation', () => {
  it('gives the targets it formatted as a reader of the annotation parses them, for any whole millicores and bytes', () => {
    const containers = fc.dictionary(
      fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
      fc.record({ cpu: fc.nat(10_000_000), memory: fc.nat(2 ** 45), raiseOnly: fc.boolean() }),
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(containers, (figures) => {
        const published = statusRecommendation(new Map(Object.entries(figures).map(([name, f]) => [name, recommendationOf(f.cpu, f.memory, f.raiseOnly)])));
        const readBack = JSON.parse(JSON.stringify(published.containers)) as object;
        expect(targetsOf(published.containers)).to.deep.equal(targetsOf(readBack));
      }),
    );
  });

  it('parses the texts of figures that do not format exactly (fractions of a millicore)', () => {
    const published = statusRecommendation(new Map([['app', recommendationOf(250.5, 2 ** 20, false)]]));
    expect(targetsOf(published.containers)).to.deep.equal(targetsOf(JSON.parse(JSON.stringify(published.containers)) as object));
  });
});
