import { expect } from 'chai';
import { annotationLevel, policyLevel, resolveSettings } from '../../../src/core/resolve.ts';
import { BUILT_IN_DEFAULTS, toWorkloadSettings } from '../../../src/core/setting-schema.ts';

const levels = (pod: Record<string, string>, deployment: Record<string, string>, namespace: Record<string, string>, rule: object, defaults: object) => [
  annotationLevel('pod template', pod),
  annotationLevel('Deployment', deployment),
  annotationLevel('Namespace', namespace),
  policyLevel('policy rule', 'namespaces.shop', rule),
  policyLevel('policy defaults', 'defaults', defaults),
];

describe('resolveSettings', () => {
  it('gives the built-in defaults when no level sets anything', () => {
    const resolution = resolveSettings(levels({}, {}, {}, {}, {}));
    expect(resolution.settings).to.deep.equal(BUILT_IN_DEFAULTS);
    expect(resolution.sources['min-replicas']).to.equal('built-in default');
    expect(resolution.errors).to.deep.equal([]);
  });

  // Each level set alone wins over everything below it; set together, the highest wins.
  const precedence: [string, ReturnType<typeof levels>, number][] = [
    ['policy defaults over built-in', levels({}, {}, {}, {}, { 'max-replicas': 5 }), 5],
    ['policy rule over policy defaults', levels({}, {}, {}, { 'max-replicas': 6 }, { 'max-replicas': 5 }), 6],
    ['namespace over policy rule', levels({}, {}, { 'ebb.dev/max-replicas': '7' }, { 'max-replicas': 6 }, { 'max-replicas': 5 }), 7],
    ['Deployment over namespace', levels({}, { 'ebb.dev/max-replicas': '8' }, { 'ebb.dev/max-replicas': '7' }, { 'max-replicas': 6 }, {}), 8],
    ['pod template over Deployment', levels({ 'ebb.dev/max-replicas': '9' }, { 'ebb.dev/max-replicas': '8' }, { 'ebb.dev/max-replicas': '7' }, {}, {}), 9],
  ];
  for (const [name, given, expected] of precedence) {
    it(name, () => expect(resolveSettings(given).settings['max-replicas']).to.equal(expected));
  }

  it('records which level each setting came from', () => {
    const { sources } = resolveSettings(levels({ 'ebb.dev/paused': 'true' }, { 'ebb.dev/idle-after': '1m' }, {}, {}, { resize: 'auto' }));
    expect(sources).to.deep.include({ paused: 'pod template', 'idle-after': 'Deployment', resize: 'policy defaults', 'min-replicas': 'built-in default' });
  });

  it('skips an invalid value, reports it, and lets the next level apply', () => {
    const resolution = resolveSettings(levels({ 'ebb.dev/idle-after': 'soon' }, { 'ebb.dev/idle-after': '2m' }, {}, {}, {}));
    expect(resolution.settings['idle-after']).to.equal(120_000);
    expect(resolution.errors.map((error) => error.key)).to.deep.equal(['ebb.dev/idle-after']);
  });

  it('refuses min-replicas above max-replicas set on the same level, keeping both from below', () => {
    const resolution = resolveSettings(
      levels({}, { 'ebb.dev/min-replicas': '5', 'ebb.dev/max-replicas': '3' }, {}, {}, { 'min-replicas': 1, 'max-replicas': 4 }),
    );
    expect(resolution.settings).to.deep.include({ 'min-replicas': 1, 'max-replicas': 4 });
    expect(resolution.errors.map((error) => error.key)).to.deep.equal(['ebb.dev/min-replicas', 'ebb.dev/max-replicas']);
    expect(resolution.errors[0]!.message).to.equal('ebb.dev/min-replicas: "5" is not accepted: min-replicas (5) must not exceed max-replicas (3)');
  });

  it('refuses a value that contradicts a lower level, naming where it is', () => {
    const resolution = resolveSettings(levels({ 'ebb.dev/min-replicas': '20' }, {}, {}, {}, { 'max-replicas': 10 }));
    expect(resolution.settings['min-replicas']).to.equal(0);
    expect(resolution.errors).to.have.length(1);
    expect(resolution.errors[0]).to.deep.include({ key: 'ebb.dev/min-replicas', value: '20', setting: 'min-replicas' });
    expect(resolution.errors[0]!.message).to.include('must not exceed max-replicas (10)');
  });

  it('checks cpu-min ≤ cpu-max, memory-min ≤ memory-max and keep-warm ≤ max-replicas', () => {
    const resolution = resolveSettings(
      levels(
        {
          'ebb.dev/cpu-min': '2',
          'ebb.dev/cpu-max': '500m',
          'ebb.dev/memory-min': '2Gi',
          'ebb.dev/memory-max': '1Gi',
          'ebb.dev/keep-warm': 'Mon 08:00-09:00 replicas=50',
        },
        {},
        {},
        {},
        {},
      ),
    );
    expect(resolution.errors.map((error) => error.key)).to.have.members([
      'ebb.dev/cpu-min',
      'ebb.dev/cpu-max',
      'ebb.dev/memory-min',
      'ebb.dev/memory-max',
      'ebb.dev/keep-warm',
    ]);
    expect(resolution.errors.find((error) => error.key === 'ebb.dev/keep-warm')!.message).to.include('keep-warm asks for 50 replicas, above max-replicas (10)');
    expect(resolution.settings).to.deep.equal(BUILT_IN_DEFAULTS);
  });

  it('reports a policy value under its field path', () => {
    const resolution = resolveSettings(levels({}, {}, {}, { 'min-replicas': 30 }, {}));
    expect(resolution.errors[0]!.key).to.equal('namespaces.shop.min-replicas');
  });

  it('gives the WorkloadSettings shape every program reads', () => {
    const { settings } = resolveSettings(levels({ 'ebb.dev/cpu-max': '2', 'ebb.dev/port': 'web' }, { 'ebb.dev/idle-after': '1m' }, {}, {}, { paused: true }));
    expect(toWorkloadSettings(settings)).to.deep.equal({
      enabled: false,
      scaling: { minReplicas: 0, maxReplicas: 10, targetConcurrency: 10, idleAfterMs: 60_000, scaleDownDelayMs: 300_000, keepWarm: [], paused: true },
      sizing: { resize: 'initial', cpuMinMillis: undefined, cpuMaxMillis: 2000, memoryMinBytes: undefined, memoryMaxBytes: undefined },
      traffic: { port: 'web' },
    });
  });
});
