// qosClass against the API server's rules (ComputePodQOS), case by case.
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { expect } from 'chai';
import { qosClass } from '../../../src/core/qos.ts';

const c = (resources?: V1Container['resources'], extra: Partial<V1Container> = {}): V1Container => ({
  name: 'c',
  ...(resources ? { resources } : {}),
  ...extra,
});
const both = (cpu: string, memory: string) => ({ cpu, memory });

describe('qosClass', () => {
  const cases: [string, V1PodSpec, string][] = [
    ['no resources anywhere', { containers: [c(), c()] }, 'BestEffort'],
    ['zero quantities only (zero counts as absent)', { containers: [c({ requests: both('0', '0'), limits: { cpu: '0' } })] }, 'BestEffort'],
    [
      'requests equal to limits in every container',
      { containers: [c({ requests: both('1', '1Gi'), limits: both('1', '1Gi') }), c({ requests: both('100m', '64Mi'), limits: both('0.1', '64Mi') })] },
      'Guaranteed',
    ],
    ['one container without resources', { containers: [c({ requests: both('1', '1Gi'), limits: both('1', '1Gi') }), c()] }, 'Burstable'],
    ['a request below its limit', { containers: [c({ requests: both('500m', '1Gi'), limits: both('1', '1Gi') })] }, 'Burstable'],
    ['limits without requests (before the API server defaults them)', { containers: [c({ limits: both('1', '1Gi') })] }, 'Burstable'],
    ['a CPU limit only', { containers: [c({ requests: both('1', '1Gi'), limits: { cpu: '1' } })] }, 'Burstable'],
    ['a memory request only', { containers: [c({ requests: { memory: '64Mi' } })] }, 'Burstable'],
    ['other resources do not count', { containers: [c({ requests: { 'ephemeral-storage': '1Gi' }, limits: { 'ephemeral-storage': '1Gi' } })] }, 'BestEffort'],
    [
      'an init container without limits spoils Guaranteed',
      { containers: [c({ requests: both('1', '1Gi'), limits: both('1', '1Gi') })], initContainers: [c()] },
      'Burstable',
    ],
    [
      'a sidecar with requests equal to limits keeps Guaranteed',
      {
        containers: [c({ requests: both('1', '1Gi'), limits: both('1', '1Gi') })],
        initContainers: [c({ requests: both('10m', '128Mi'), limits: both('10m', '128Mi') }, { restartPolicy: 'Always' })],
      },
      'Guaranteed',
    ],
    [
      'a sidecar without a CPU limit makes it Burstable',
      {
        containers: [c({ requests: both('1', '1Gi'), limits: both('1', '1Gi') })],
        initContainers: [c({ requests: both('10m', '32Mi'), limits: { memory: '128Mi' } }, { restartPolicy: 'Always' })],
      },
      'Burstable',
    ],
    ['pod-level resources decide alone', { resources: { requests: both('1', '1Gi'), limits: both('1', '1Gi') }, containers: [c()] }, 'Guaranteed'],
    [
      'pod-level requests without limits',
      { resources: { requests: both('1', '1Gi') }, containers: [c({ requests: both('1', '1Gi'), limits: both('1', '1Gi') })] },
      'Burstable',
    ],
  ];
  for (const [name, spec, expected] of cases) {
    it(`${expected}: ${name}`, () => expect(qosClass(spec)).to.equal(expected));
  }

  it('BestEffort without a spec', () => expect(qosClass(undefined)).to.equal('BestEffort'));
});
