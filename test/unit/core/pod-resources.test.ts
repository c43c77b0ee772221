// A pod's requests and limits as a ResourceQuota counts them (component-helpers PodRequests /
// PodLimits), and ebb's changes applied on top.
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { expect } from 'chai';
import { podAmounts, podContainers, withChanges } from '../../../src/core/pod-resources.ts';

const MiB = 2 ** 20;
const c = (requests: Record<string, string>, limits: Record<string, string> = {}, extra: Partial<V1Container> = {}): V1Container => ({
  name: 'c',
  resources: { requests, limits },
  ...extra,
});

describe('podAmounts', () => {
  it('adds up the app containers', () => {
    const spec: V1PodSpec = { containers: [c({ cpu: '100m', memory: '64Mi' }, { cpu: '1' }), c({ cpu: '250m' }, { cpu: '500m', memory: '1Gi' })] };
    expect(podAmounts(podContainers(spec))).to.deep.equal({ requests: { cpu: 350, memory: 64 * MiB }, limits: { cpu: 1500, memory: 1024 * MiB } });
  });

  it('adds sidecars to the app, and counts a regular init container alone with the sidecars started before it', () => {
    const spec: V1PodSpec = {
      containers: [c({ cpu: '100m' })],
      initContainers: [c({ cpu: '50m' }, {}, { restartPolicy: 'Always' }), c({ cpu: '2' }), c({ cpu: '10m' }, {}, { restartPolicy: 'Always' })],
    };
    // Running: 100m + 50m + 10m = 160m; the regular init container needs 2 + 50m while it runs.
    expect(podAmounts(podContainers(spec)).requests).to.deep.equal({ cpu: 2050 });
  });

  it('puts overhead on every request and on the limits that exist', () => {
    const spec: V1PodSpec = { containers: [c({ cpu: '100m', memory: '64Mi' }, { memory: '128Mi' })], overhead: { cpu: '50m', memory: '16Mi' } };
    expect(podAmounts(podContainers(spec))).to.deep.equal({ requests: { cpu: 150, memory: 80 * MiB }, limits: { memory: 144 * MiB } });
  });

  it('takes pod-level resources in place of the sums', () => {
    const spec: V1PodSpec = { containers: [c({ cpu: '100m', memory: '64Mi' })], resources: { requests: { cpu: '1' }, limits: { cpu: '2' } } };
    expect(podAmounts(podContainers(spec))).to.deep.equal({ requests: { cpu: 1000, memory: 64 * MiB }, limits: { cpu: 2000 } });
  });

  it("applies ebb's changes: requests set per app container, the sidecar appended", () => {
    const spec: V1PodSpec = { containers: [c({ memory: '64Mi' }), c({ cpu: '1' })], initContainers: [c({ cpu: '3' })] };
    const changed = withChanges(podContainers(spec), {
      requests: [{ cpu: 100 }, {}],
      sidecar: { requests: { cpu: 10, memory: 32 * MiB }, limits: { memory: 128 * MiB } },
    });
    expect(podAmounts(changed)).to.deep.equal({ requests: { cpu: 3000, memory: 96 * MiB }, limits: { memory: 128 * MiB } });
    expect(changed.containers[0]!.requests).to.deep.equal({ memory: 64 * MiB, cpu: 100 });
  });
});
