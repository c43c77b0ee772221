// The sidecar's requests and limits by the pod's QoS class, the namespace's LimitRanges and the
// limits its ResourceQuotas track; and the LimitRange default those limits come from.
import type { V1LimitRange } from '@kubernetes/client-node';
import { expect } from 'chai';
import { containerBounds, UNBOUNDED, type ContainerBounds } from '../../../src/core/patch/limit-range.ts';
import { sidecarResources } from '../../../src/core/patch/sidecar.ts';
import { DEFAULT_POLICY } from '../../../src/core/policy.ts';

const MiB = 2 ** 20;
const policy = DEFAULT_POLICY.sidecar; // requests 10m / 64Mi, memory limit 128Mi
const NONE = { cpu: false, memory: false };
const resources = (qos: 'Guaranteed' | 'Burstable' | 'BestEffort', bounds: ContainerBounds = UNBOUNDED, limitsTracked = NONE) =>
  sidecarResources(policy, { qos, bounds, limitsTracked });

describe('sidecarResources', () => {
  it('Burstable: the policy requests and memory limit, no CPU limit', () => {
    expect(resources('Burstable')).to.deep.equal({ requests: { cpu: 10, memory: 64 * MiB }, limits: { memory: 128 * MiB } });
  });

  it('Burstable with a quota on limits.cpu: a CPU limit at the request', () => {
    expect(resources('Burstable', UNBOUNDED, { cpu: true, memory: true }).limits).to.deep.equal({ cpu: 10, memory: 128 * MiB });
  });

  it('Burstable with a quota on limits.cpu and a LimitRange default: the default', () => {
    expect(resources('Burstable', { cpu: { defaultLimit: 300 }, memory: {} }, { cpu: true, memory: false }).limits).to.deep.equal({
      cpu: 300,
      memory: 128 * MiB,
    });
  });

  it('Burstable in a LimitRange with a max: a CPU limit at its default, requests raised to its min, never a limit below the request', () => {
    const bounds = { cpu: { min: 50, max: 2000, defaultLimit: 20 }, memory: { min: 200 * MiB, max: 1024 * MiB } };
    expect(resources('Burstable', bounds)).to.deep.equal({ requests: { cpu: 50, memory: 200 * MiB }, limits: { cpu: 50, memory: 200 * MiB } });
  });

  it('Guaranteed: limits equal to requests, memory at the policy limit, all within the LimitRange', () => {
    expect(resources('Guaranteed')).to.deep.equal({ requests: { cpu: 10, memory: 128 * MiB }, limits: { cpu: 10, memory: 128 * MiB } });
    const bounds = { cpu: { min: 100 }, memory: { max: 64 * MiB } };
    expect(resources('Guaranteed', bounds)).to.deep.equal({ requests: { cpu: 100, memory: 64 * MiB }, limits: { cpu: 100, memory: 64 * MiB } });
  });

  it('BestEffort: nothing, whatever a quota tracks', () => {
    expect(resources('BestEffort', UNBOUNDED, { cpu: true, memory: true })).to.deep.equal({ requests: {}, limits: {} });
  });
});

describe('containerBounds: the default limit', () => {
  const range = (name: string, limit: Record<string, unknown>): V1LimitRange => ({ metadata: { name }, spec: { limits: [{ type: 'Container', ...limit }] } });

  it('reads `default` as listed (`_default`) and as watched (`default`), else the max, and the first LimitRange that sets one wins', () => {
    const listed = range('a', { _default: { cpu: '200m' }, max: { cpu: '2', memory: '1Gi' } });
    const watched = range('b', { default: { cpu: '300m', memory: '256Mi' } });
    expect(containerBounds([listed, watched])).to.deep.include({
      cpu: { min: undefined, max: 2000, defaultLimit: 200 },
      memory: { min: undefined, max: 1024 * MiB, defaultLimit: 1024 * MiB },
    });
    expect(containerBounds([watched]).cpu.defaultLimit).to.equal(300);
  });
});
