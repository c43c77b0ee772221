// ResourceQuotas against what ebb adds: which quotas select a pod (their scopes), which limits
// they demand of the sidecar, and whether the pod with the sidecar fits what is left of them.
import type { V1Pod, V1PodSpec, V1ResourceQuota, V1ResourceQuotaSpec } from '@kubernetes/client-node';
import { expect } from 'chai';
import { describeShortfall, limitsTracked, quotaShortfall, quotasSelecting } from '../../../src/core/patch/quota.ts';

const MiB = 2 ** 20;
const quota = (name: string, hard: Record<string, string>, used: Record<string, string> = {}, spec: V1ResourceQuotaSpec = {}): V1ResourceQuota => ({
  metadata: { name },
  spec: { ...spec, hard },
  status: { hard, used },
});
const pod = (spec: Partial<V1PodSpec> = {}): V1Pod => ({ spec: { containers: [{ name: 'app' }], ...spec } });

describe('quotasSelecting', () => {
  const scoped = (name: string, spec: V1ResourceQuotaSpec) => quota(name, { 'requests.cpu': '1' }, {}, spec);
  const selected = (quotas: V1ResourceQuota[], target: V1Pod, qos: 'Guaranteed' | 'Burstable' | 'BestEffort' = 'Burstable') =>
    quotasSelecting(quotas, target, qos).map((q) => q.metadata!.name);
  const priority = (operator: string, values?: string[]) => ({
    scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator, ...(values ? { values } : {}) }] },
  });

  it('selects every pod with an unscoped quota', () => {
    expect(selected([quota('all', { 'limits.cpu': '1' })], pod())).to.deep.equal(['all']);
  });

  it('Terminating and NotTerminating by activeDeadlineSeconds', () => {
    const quotas = [scoped('terminating', { scopes: ['Terminating'] }), scoped('long-running', { scopes: ['NotTerminating'] })];
    expect(selected(quotas, pod())).to.deep.equal(['long-running']);
    expect(selected(quotas, pod({ activeDeadlineSeconds: 600 }))).to.deep.equal(['terminating']);
  });

  it('BestEffort and NotBestEffort by the QoS class', () => {
    const quotas = [scoped('be', { scopes: ['BestEffort'] }), scoped('not-be', { scopes: ['NotBestEffort'] })];
    expect(selected(quotas, pod(), 'BestEffort')).to.deep.equal(['be']);
    expect(selected(quotas, pod(), 'Guaranteed')).to.deep.equal(['not-be']);
  });

  it('PriorityClass with every operator, as a label selector over the class name', () => {
    const quotas = [
      scoped('in', priority('In', ['high'])),
      scoped('not-in', priority('NotIn', ['high'])),
      scoped('exists', priority('Exists')),
      scoped('absent', priority('DoesNotExist')),
      scoped('listed', { scopes: ['PriorityClass'] }),
    ];
    expect(selected(quotas, pod({ priorityClassName: 'high' }))).to.deep.equal(['in', 'exists', 'listed']);
    expect(selected(quotas, pod({ priorityClassName: 'low' }))).to.deep.equal(['not-in', 'exists', 'listed']);
    expect(selected(quotas, pod())).to.deep.equal(['not-in', 'absent']);
  });

  it('CrossNamespacePodAffinity by affinity terms that name namespaces', () => {
    const quotas = [scoped('cross', { scopes: ['CrossNamespacePodAffinity'] })];
    const term = { topologyKey: 'zone', namespaces: ['other'] };
    expect(selected(quotas, pod())).to.deep.equal([]);
    expect(
      selected(quotas, pod({ affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, podAffinityTerm: term }] } } })),
    ).to.deep.equal(['cross']);
    expect(
      selected(
        quotas,
        pod({ affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'zone', namespaceSelector: {} }] } } }),
      ),
    ).to.deep.equal(['cross']);
  });

  it('every scope must select the pod', () => {
    expect(selected([scoped('both', { scopes: ['NotBestEffort', 'Terminating'] })], pod())).to.deep.equal([]);
  });
});

describe('limitsTracked', () => {
  it('reads the limits a quota enforces (status.hard, else spec.hard)', () => {
    expect(limitsTracked([quota('q', { 'requests.cpu': '1', cpu: '1' })])).to.deep.equal({ cpu: false, memory: false });
    expect(limitsTracked([quota('a', { 'limits.cpu': '1' }), quota('b', { 'limits.memory': '1Gi' })])).to.deep.equal({ cpu: true, memory: true });
    expect(limitsTracked([{ metadata: { name: 'new' }, spec: { hard: { 'limits.memory': '1Gi' } } }])).to.deep.equal({ cpu: false, memory: true });
  });
});

describe('quotaShortfall', () => {
  const without = { requests: { cpu: 100, memory: 64 * MiB }, limits: { cpu: 1000, memory: 256 * MiB } };
  const withSidecar = { requests: { cpu: 110, memory: 96 * MiB }, limits: { cpu: 1010, memory: 384 * MiB } };

  it('is undefined when the pod with the sidecar fits, exactly or with room', () => {
    expect(
      quotaShortfall([quota('q', { 'requests.cpu': '1', 'limits.memory': '1Gi' }, { 'requests.cpu': '890m', 'limits.memory': '640Mi' })], without, withSidecar),
    ).to.equal(undefined);
  });

  it('names the first quota and resource that has no room, and how much is missing', () => {
    const quotas = [quota('fine', { cpu: '10' }), quota('tight', { pods: '10', 'limits.memory': '1Gi' }, { 'limits.memory': '700Mi' })];
    const shortfall = quotaShortfall(quotas, without, withSidecar)!;
    expect(shortfall).to.deep.equal({
      quota: 'tight',
      tracked: 'limits.memory',
      resource: 'memory',
      hard: 1024 * MiB,
      used: 700 * MiB,
      pod: 256 * MiB,
      sidecar: 128 * MiB,
    });
    expect(describeShortfall(shortfall)).to.equal(
      'ResourceQuota "tight" has no room for the sidecar: limits.memory 60Mi missing (hard 1Gi, used 700Mi, this pod 256Mi + the sidecar 128Mi)',
    );
  });

  it('counts `cpu` and `memory` as requests', () => {
    expect(quotaShortfall([quota('q', { memory: '90Mi' })], without, withSidecar)?.tracked).to.equal('memory');
  });

  it('reads a missing `used` as nothing used yet', () => {
    expect(quotaShortfall([quota('q', { 'requests.cpu': '110m' })], without, withSidecar)).to.equal(undefined);
  });
});
