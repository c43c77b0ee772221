import { expect } from 'chai';
import type { V1Node } from '@kubernetes/client-node';
import { injectedWorkload } from '../../../src/core/usage/injected-workload.ts';
import { kubeletMetricsUrl } from '../../../src/core/usage/kubelet-endpoint.ts';

const node = (addresses: { type: string; address: string }[], port?: number, path?: string): V1Node => ({
  metadata: { name: 'node-a', ...(path === undefined ? {} : { annotations: { 'metrics.k8s.io/resource-metrics-path': path } }) },
  status: { addresses, ...(port === undefined ? {} : { daemonEndpoints: { kubeletEndpoint: { Port: port } } }) },
});

describe("kubeletMetricsUrl: where the node's kubelet serves resource metrics, as metrics-server finds it", () => {
  it('takes the InternalIP first, the port from daemonEndpoints, and /metrics/resource', () => {
    const result = kubeletMetricsUrl(
      node(
        [
          { type: 'Hostname', address: 'node-a' },
          { type: 'ExternalIP', address: '203.0.113.9' },
          { type: 'InternalIP', address: '10.0.0.5' },
        ],
        10250,
      ),
    );
    expect(result).to.deep.equal({ ok: true, value: 'https://10.0.0.5:10250/metrics/resource' });
  });

  it("follows the node's resource-metrics-path annotation (KWOK serves every node under one port)", () => {
    expect(kubeletMetricsUrl(node([{ type: 'InternalIP', address: '127.0.0.1' }], 41234, '/metrics/nodes/node-a/metrics/resource'))).to.deep.equal({
      ok: true,
      value: 'https://127.0.0.1:41234/metrics/nodes/node-a/metrics/resource',
    });
  });

  it('falls back to the hostname, brackets IPv6, and to port 10250 when the status has none', () => {
    expect(kubeletMetricsUrl(node([{ type: 'Hostname', address: 'node-a.example' }]))).to.deep.equal({
      ok: true,
      value: 'https://node-a.example:10250/metrics/resource',
    });
    expect(kubeletMetricsUrl(node([{ type: 'InternalIP', address: 'fd00::5' }], 10250))).to.deep.equal({
      ok: true,
      value: 'https://[fd00::5]:10250/metrics/resource',
    });
  });

  it('says why when the node has no address or a path that is not one', () => {
    expect(kubeletMetricsUrl(node([]))).to.deep.equal({ ok: false, error: 'node node-a has no address in its status' });
    expect(kubeletMetricsUrl(node([{ type: 'InternalIP', address: '10.0.0.5' }], 10250, 'metrics'))).to.deep.equal({
      ok: false,
      error: 'node node-a: metrics.k8s.io/resource-metrics-path="metrics" is not a path',
    });
  });
});

describe('injectedWorkload: the workload the webhook recorded on a pod', () => {
  it('reads the workload from ebb.dev/injected, and nothing from a pod without a valid one', () => {
    expect(injectedWorkload({ 'ebb.dev/injected': '{"v":1,"workload":"shop/web","settings":{},"sidecar":"injected"}' })).to.equal('shop/web');
    expect(injectedWorkload(undefined)).to.equal(undefined);
    expect(injectedWorkload({ 'ebb.dev/injected': '{"version":"test"}' })).to.equal(undefined);
    expect(injectedWorkload({ 'ebb.dev/injected': '{"workload":"Not A Name/x"}' })).to.equal(undefined);
    expect(injectedWorkload({ 'ebb.dev/injected': 'not json' })).to.equal(undefined);
  });
});
