import { expect } from 'chai';
import { decideOptIn, type OptInInput } from '../../../src/core/opt-in.ts';
import { DEFAULT_POLICY, type Policy } from '../../../src/core/policy.ts';

const base: OptInInput = {
  namespace: 'shop',
  ebbNamespace: 'ebb-system',
  namespaceLabels: {},
  podLabels: {},
  podAnnotations: {},
  pod: {},
  deployment: {},
  namespaceSettings: {},
  policy: DEFAULT_POLICY,
};
const withPolicy = (policy: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...policy });
const enabledLabel = { namespaceLabels: { 'ebb.dev/injection': 'enabled' } };

describe('decideOptIn', () => {
  const cases: [string, Partial<OptInInput>, boolean, string][] = [
    ['nothing opts in', {}, false, 'nothing opts it in'],
    ['the namespace label', enabledLabel, true, 'labelled ebb.dev/injection=enabled'],
    ['a Deployment annotation', { deployment: { enabled: true } }, true, '"true" on the Deployment'],
    ['a pod template annotation', { pod: { enabled: true } }, true, '"true" on the pod template'],
    ['a namespace annotation', { namespaceSettings: { enabled: true } }, true, 'on namespace shop'],
    [
      'a policy namespace rule',
      { policy: withPolicy({ namespaces: new Map([['shop', { injection: 'enabled', settings: {} }]]) }) },
      true,
      'injection: enabled',
    ],
    ['the policy defaults', { policy: withPolicy({ defaults: { enabled: true } }) }, true, 'defaults.enabled is true'],
    ['"false" on the Deployment in an enabled namespace', { ...enabledLabel, deployment: { enabled: false } }, false, '"false" on the Deployment'],
    [
      '"false" on the pod template over "true" on the Deployment',
      { pod: { enabled: false }, deployment: { enabled: true } },
      false,
      '"false" on the pod template',
    ],
    [
      '"false" on the Deployment over "true" on the pod template',
      { pod: { enabled: true }, deployment: { enabled: false } },
      false,
      '"false" on the Deployment',
    ],
    [
      'a namespace labelled disabled over the policy',
      { namespaceLabels: { 'ebb.dev/injection': 'disabled' }, policy: withPolicy({ defaults: { enabled: true } }) },
      false,
      'opts out',
    ],
    [
      'a policy rule that disables over enabled defaults',
      { policy: withPolicy({ defaults: { enabled: true }, namespaces: new Map([['shop', { injection: 'disabled', settings: {} }]]) }) },
      false,
      'injection: disabled',
    ],
    [
      'an unknown label value',
      { namespaceLabels: { 'ebb.dev/injection': 'true' } },
      false,
      'ebb.dev/injection=true on the namespace is not enabled or disabled',
    ],
    // Never, whatever opts in:
    ['kube-system', { ...enabledLabel, namespace: 'kube-system', pod: { enabled: true } }, false, 'belongs to Kubernetes'],
    ['kube-public', { namespace: 'kube-public', pod: { enabled: true } }, false, 'belongs to Kubernetes'],
    ['kube-node-lease', { namespace: 'kube-node-lease', pod: { enabled: true } }, false, 'belongs to Kubernetes'],
    ["ebb's namespace", { namespace: 'ebb-system', pod: { enabled: true } }, false, "is ebb's own"],
    ['a configured ebb namespace', { namespace: 'autoscaling', ebbNamespace: 'autoscaling', pod: { enabled: true } }, false, "is ebb's own"],
    ['an excluded namespace', { pod: { enabled: true }, policy: withPolicy({ excludedNamespaces: new Set(['shop']) }) }, false, 'excludedNamespaces'],
    ['a mirror pod', { pod: { enabled: true }, podAnnotations: { 'kubernetes.io/config.mirror': 'abc' } }, false, 'mirror pod'],
    ["ebb's own pods", { pod: { enabled: true }, podLabels: { 'app.kubernetes.io/part-of': 'ebb' } }, false, 'part of ebb'],
  ];
  for (const [name, input, inject, reason] of cases) {
    it(`${inject ? 'injects' : 'does not inject'}: ${name}`, () => {
      const decision = decideOptIn({ ...base, ...input });
      expect(decision.inject).to.equal(inject);
      expect(decision.reason).to.include(reason);
    });
  }
});
