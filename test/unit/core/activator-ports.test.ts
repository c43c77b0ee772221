import { expect } from 'chai';
import fc from 'fast-check';
import type { V1Service } from '@kubernetes/client-node';
import { assignActivatorPorts, parsePortRange, type PortRange } from '../../../src/core/activator-ports.ts';
import { activatorSlice, readActivatorSlice } from '../../../src/core/activator-slice.ts';

const range: PortRange = { first: 20_000, last: 20_009 };

describe('activator ports', () => {
  it('reads a range and says what is accepted otherwise', () => {
    expect(parsePortRange(' 20000 - 29999 ')).to.deep.equal({ ok: true, value: { first: 20_000, last: 29_999 } });
    for (const text of ['20000', '0-10', '10-70000', '30000-20000', 'a-b', '']) {
      const parsed = parsePortRange(text);
      expect(parsed.ok, text).to.equal(false);
      expect(!parsed.ok && parsed.error).to.match(/expected first-last with 1 ≤ first ≤ last ≤ 65535/);
    }
  });

  it('gives a port per name, after the last one given, wrapping around past what is taken', () => {
    const given = assignActivatorPorts({ range, names: ['http', 'grpc'], current: undefined, taken: new Set([20_008, 20_009, 20_000]), after: 20_007 });
    expect(given).to.deep.equal({
      ok: true,
      value: {
        ports: new Map([
          ['http', 20_001],
          ['grpc', 20_002],
        ]),
        after: 20_002,
      },
    });
  });

  it('keeps the ports a Service holds while they stay in range and free; replaces the others', () => {
    const current = new Map([
      ['http', 20_004],
      ['grpc', 30_000],
      ['admin', 20_005],
    ]);
    const given = assignActivatorPorts({ range, names: ['http', 'grpc', 'admin'], current, taken: new Set([20_005]), after: 20_005 });
    expect(given.ok && [...given.value.ports]).to.deep.equal([
      ['http', 20_004],
      ['grpc', 20_006],
      ['admin', 20_007],
    ]);
  });

  it('says so when the range is exhausted', () => {
    const taken = new Set([20_000, 20_001, 20_002, 20_003, 20_004, 20_005, 20_006, 20_007, 20_008]);
    expect(assignActivatorPorts({ range, names: ['http'], current: undefined, taken, after: 20_000 }).ok).to.equal(true);
    const exhausted = assignActivatorPorts({ range, names: ['http', 'grpc'], current: undefined, taken, after: 20_000 });
    expect(exhausted).to.deep.equal({ ok: false, error: 'no free activator port in 20000-20009: all 10 are given to sleeping Service ports' });
  });

  it('never gives a taken port, never one port twice, always one in range, and keeps valid ones (property)', () => {
    const port = fc.integer({ min: 19_995, max: 20_014 });
    const names = fc.uniqueArray(fc.constantFrom<string>('', 'http', 'grpc', 'admin', 'metrics'), { maxLength: 5 });
    fc.assert(
      fc.property(
        names,
        fc.dictionary(fc.constantFrom('http', 'grpc', 'x'), port),
        fc.uniqueArray(port, { maxLength: 12 }),
        port,
        (wanted, held, takenList, after) => {
          const taken = new Set(takenList);
          const current = new Map(Object.entries(held));
          const result = assignActivatorPorts({ range, names: wanted, current, taken, after });
          const free = [...Array(10).keys()].map((i) => 20_000 + i).filter((p) => !taken.has(p));
          if (!result.ok) {
            expect(wanted.length).to.be.above(free.length);
            return;
          }
          const ports = [...result.value.ports.values()];
          expect([...result.value.ports.keys()].sort()).to.deep.equal([...wanted].sort());
          expect(new Set(ports).size).to.equal(ports.length);
          for (const p of ports)
            expect(p)
              .to.be.within(20_000, 20_009)
              .and.to.satisfy((q: number) => !taken.has(q));
          for (const name of wanted) {
            const before = current.get(name);
            const keepable =
              before !== undefined &&
              before >= 20_000 &&
              before <= 20_009 &&
              !taken.has(before) &&
              [...current].filter(([n, p]) => p === before && wanted.includes(n)).length === 1;
            if (keepable) expect(result.value.ports.get(name), name).to.equal(before);
          }
        },
      ),
    );
  });
});

describe('activator slice', () => {
  const service: V1Service = {
    metadata: { name: 'web', namespace: 'shop', uid: 'u-1' },
    spec: {
      ports: [
        { name: 'http', port: 80 },
        { name: 'grpc', port: 9090, protocol: 'TCP' },
      ],
    },
  };

  it('carries each Service port’s own activator port, and reads back as written', () => {
    const slice = activatorSlice(
      service,
      'shop/web',
      [{ ip: '10.0.0.2' }, { ip: '10.0.0.1', nodeName: 'n1' }],
      new Map([
        ['http', 20_001],
        ['grpc', 20_002],
      ]),
    );
    expect(slice.ports).to.deep.equal([
      { name: 'http', port: 20_001, protocol: 'TCP' },
      { name: 'grpc', port: 20_002, protocol: 'TCP' },
    ]);
    expect(slice.endpoints?.map((e) => e.addresses[0])).to.deep.equal(['10.0.0.1', '10.0.0.2']);
    const view = readActivatorSlice({ ...slice, metadata: { ...slice.metadata, creationTimestamp: new Date('2026-01-01T00:00:00Z') } });
    expect(view).to.deep.equal({
      service: { namespace: 'shop', name: 'web' },
      workload: 'shop/web',
      ports: new Map([
        ['http', 20_001],
        ['grpc', 20_002],
      ]),
      createdAt: '2026-01-01T00:00:00.000Z',
    });
  });

  it('ignores a slice that names a workload of another namespace, or none', () => {
    const slice = activatorSlice(
      service,
      'shop/web',
      [],
      new Map([
        ['http', 20_001],
        ['grpc', 20_002],
      ]),
    );
    expect(readActivatorSlice({ ...slice, metadata: { ...slice.metadata, annotations: { 'ebb.dev/workload': 'bank/payments' } } })).to.equal(undefined);
    expect(readActivatorSlice({ ...slice, metadata: { ...slice.metadata, annotations: {} } })).to.equal(undefined);
  });
});
