import { expect } from 'chai';
import { DEFAULT_POLICY } from '../../../src/core/policy.ts';
import { accepted, rejected } from './policy-texts.ts';

describe('parsePolicy', () => {
  it('gives the default policy for an empty document', () => {
    expect(accepted('')).to.deep.equal(DEFAULT_POLICY);
    expect(accepted('# nothing but a comment\n')).to.deep.equal(DEFAULT_POLICY);
  });

  it('reads every field', () => {
    const policy = accepted(`
defaults:
  min-replicas: 1
  idle-after: 10m
  resize: auto
  enabled: true
  keep-warm: ["Mon-Fri 08:00-19:00 Europe/Berlin replicas=2", "Sat 10:00-14:00"]
namespaces:
  shop:
    injection: enabled
    max-replicas: 20
    cpu-max: "2"
  legacy:
    injection: disabled
excludedNamespaces: [batch, monitoring]
sidecar:
  image: registry.example/ebb/interceptor:1.2.3
  imagePullPolicy: Always
  resources:
    requests: { cpu: 20m, memory: 48Mi }
    limits: { memory: 96Mi }
  listenPort: 19080
  adminPort: 19090
defaultRequests: { cpu: 50m, memory: 64Mi }
eviction:
  ratePerMinute: 2
  windows: "Mon-Fri 22:00-06:00 Europe/Berlin"
  dryRun: true
dryRun: true
`);
    expect(policy.defaults).to.deep.include({ 'min-replicas': 1, 'idle-after': 600_000, resize: 'auto', enabled: true });
    expect(policy.defaults['keep-warm']).to.have.length(2);
    expect(policy.namespaces.get('shop')).to.deep.equal({ injection: 'enabled', settings: { 'max-replicas': 20, 'cpu-max': 2000 } });
    expect(policy.namespaces.get('legacy')).to.deep.equal({ injection: 'disabled', settings: {} });
    expect([...policy.excludedNamespaces]).to.deep.equal(['batch', 'monitoring']);
    expect(policy.sidecar).to.deep.equal({
      image: 'registry.example/ebb/interceptor:1.2.3',
      imagePullPolicy: 'Always',
      requests: { cpuMillis: 20, memoryBytes: 48 * 2 ** 20 },
      memoryLimitBytes: 96 * 2 ** 20,
      listenPort: 19080,
      adminPort: 19090,
    });
    expect(policy.defaultRequests).to.deep.equal({ cpuMillis: 50, memoryBytes: 64 * 2 ** 20 });
    expect(policy.eviction).to.deep.equal({
      ratePerMinute: 2,
      windows: [{ days: [1, 2, 3, 4, 5], startMinute: 1320, endMinute: 360, timeZone: 'Europe/Berlin' }],
      dryRun: true,
    });
    expect(policy.dryRun).to.equal(true);
  });

  it('keeps the defaults of fields a partial section leaves out', () => {
    const policy = accepted('sidecar: { image: my/interceptor:2 }');
    expect(policy.sidecar).to.deep.equal({ ...DEFAULT_POLICY.sidecar, image: 'my/interceptor:2' });
  });

  // Each problem: its field path, the value, and what is accepted.
  const invalid: [string, string, string, string][] = [
    [
      'an unknown top-level field',
      'excludedNamespace: [x]',
      'excludedNamespace',
      'unknown field "excludedNamespace": known fields are defaults, namespaces, excludedNamespaces',
    ],
    ['an unknown setting in defaults', 'defaults: { min-replica: 1 }', 'defaults.min-replica', 'known fields are enabled, min-replicas'],
    ['an invalid default', 'defaults: { min-replicas: -1 }', 'defaults.min-replicas', '"-1" is not accepted: expected a whole number ≥ 0'],
    ['a duration without a unit', 'defaults: { idle-after: 300 }', 'defaults.idle-after', '"300" is not accepted: expected a duration'],
    ['an invalid keep-warm window', 'defaults: { keep-warm: "Mon 25:00-26:00" }', 'defaults.keep-warm', 'is not a time range'],
    ['a namespace rule that is not a mapping', 'namespaces: { shop: enabled }', 'namespaces.shop', '"enabled" is not accepted: expected a mapping'],
    [
      'an invalid injection value',
      'namespaces: { shop: { injection: yes } }',
      'namespaces.shop.injection',
      '"yes" is not accepted: expected enabled | disabled',
    ],
    ['enabled in a namespace rule', 'namespaces: { shop: { enabled: true } }', 'namespaces.shop.enabled', 'known fields are injection'],
    ['an invalid namespace name', 'namespaces: { Shop_1: { injection: enabled } }', 'namespaces.Shop_1', 'expected a namespace name'],
    ['excludedNamespaces not a list', 'excludedNamespaces: batch', 'excludedNamespaces', 'expected a list of strings'],
    ['an invalid excluded name', 'excludedNamespaces: [ok, "Not OK"]', 'excludedNamespaces[1]', 'expected a namespace name'],
    ['a CPU limit on the sidecar', 'sidecar: { resources: { limits: { cpu: 1 } } }', 'sidecar.resources.limits.cpu', 'a CPU limit is not accepted'],
    [
      'an invalid sidecar request',
      'sidecar: { resources: { requests: { cpu: lots } } }',
      'sidecar.resources.requests.cpu',
      '"lots" is not accepted: expected a CPU quantity',
    ],
    [
      'a memory limit below the request',
      'sidecar: { resources: { requests: { memory: 64Mi }, limits: { memory: 32Mi } } }',
      'sidecar.resources.limits.memory',
      'expected at least requests.memory (64Mi)',
    ],
    ['an invalid pull policy', 'sidecar: { imagePullPolicy: Sometimes }', 'sidecar.imagePullPolicy', 'expected Always | IfNotPresent | Never'],
    ['an image with spaces', 'sidecar: { image: "my image" }', 'sidecar.image', 'expected an image reference'],
    ['a port out of range', 'sidecar: { listenPort: 70000 }', 'sidecar.listenPort', 'expected a whole number from 1 to 65535'],
    ['equal listen and admin ports', 'sidecar: { listenPort: 9000, adminPort: 9000 }', 'sidecar.adminPort', 'must differ from sidecar.listenPort'],
    ['invalid default requests', 'defaultRequests: { memory: 1Mb }', 'defaultRequests.memory', 'expected a memory quantity'],
    ['a negative eviction rate', 'eviction: { ratePerMinute: -2 }', 'eviction.ratePerMinute', 'expected a whole number from 0 to 10000'],
    ['an invalid eviction window', 'eviction: { windows: ["Mon 22:00-06:00 Nowhere/City"] }', 'eviction.windows', '"Nowhere/City" is not a time zone'],
    ['dryRun as a string', 'dryRun: "yes"', 'dryRun', 'expected true or false'],
    ['a list at the top', '- a\n- b', '', 'expected a mapping'],
  ];
  for (const [what, text, path, problem] of invalid) {
    it(`rejects ${what}, naming ${path || 'the document'}`, () => {
      const errors = rejected(text);
      const error = errors.find((candidate) => candidate.key === (path || 'policy.yaml'));
      expect(error, errors.map((candidate) => candidate.message).join('\n')).to.not.equal(undefined);
      expect(error!.message)
        .to.include(`policy.yaml${path ? ` ${path}` : ''}: `)
        .and.include(problem);
    });
  }

  it('reports every problem of an edit, not only the first', () => {
    expect(rejected('defaults: { min-replicas: x, max-replicas: y }\ndryRun: 3').map((error) => error.key)).to.deep.equal([
      'defaults.min-replicas',
      'defaults.max-replicas',
      'dryRun',
    ]);
  });

  it('reports YAML that does not parse', () => {
    const [error] = rejected('defaults: [unclosed');
    expect(error!.message).to.match(/^policy.yaml is not valid YAML: /);
  });
});
