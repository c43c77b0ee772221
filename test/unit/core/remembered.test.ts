import { expect } from 'chai';
import { rememberedPerObject } from '../../../src/core/remembered.ts';

describe('rememberedPerObject', () => {
  it('computes once per object, an undefined answer included, and again for another object', () => {
    const asked: object[] = [];
    const lookup = rememberedPerObject((key: { name?: string }) => (asked.push(key), key.name));
    const named = { name: 'web' };
    const unnamed = {};
    expect([lookup(named), lookup(named), lookup(unnamed), lookup(unnamed)]).to.deep.equal(['web', 'web', undefined, undefined]);
    expect(asked).to.deep.equal([named, unnamed]);
    expect(lookup({ name: 'web' })).to.equal('web');
    expect(asked).to.have.length(3);
  });
});
