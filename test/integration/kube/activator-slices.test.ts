import { expect } from 'chai';
import { CoreV1Api, DiscoveryV1Api, PatchStrategy, setHeaderOptions, type V1Service } from '@kubernetes/client-node';
import { activatorSlice, activatorSliceName } from '../../../src/core/activator-slice.ts';
import { ActivatorSlices } from '../../../src/kube/activator-slices.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';

// The API server refuses loopback addresses in EndpointSlices, so these agents have addresses from
// TEST-NET-1 (192.0.2.0/24, reserved for documentation): API objects only, no traffic goes there.
describe('activator EndpointSlices on the real API server', function () {
  this.timeout(60_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  const namespace = 'default';
  let core: CoreV1Api;
  let discovery: DiscoveryV1Api;
  let service: V1Service;
  /** The Service port `http` has activator port 18000 on the agents. */
  const ports = new Map([['http', 18000]]);

  const slicesOf = async (name: string) =>
    (await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${name}` })).items;

  before(async () => {
    core = controlPlane().kubeConfig.makeApiClient(CoreV1Api);
    discovery = controlPlane().kubeConfig.makeApiClient(DiscoveryV1Api);
    service = await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'shop' }, spec: { selector: { app: 'shop' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
    });
  });

  it("adds a slice beside the EndpointSlice controller's, which leaves it alone", async () => {
    const slices = new ActivatorSlices(controlPlane().kubeConfig);
    await slices.ensure(activatorSlice(service, 'default/shop', [{ ip: '192.0.2.1' }, { ip: '192.0.2.2' }], ports));
    const all = await eventually('both slices', async () => {
      const items = await slicesOf('shop');
      return items.length === 2 ? items : undefined;
    });
    const ours = all.find((slice) => slice.metadata?.name === activatorSliceName('shop'))!;
    expect(ours.endpoints?.map((endpoint) => endpoint.addresses[0])).to.deep.equal(['192.0.2.1', '192.0.2.2']);
    expect(ours.ports).to.deep.equal([{ name: 'http', port: 18000, protocol: 'TCP' }]);
    expect(ours.metadata?.annotations?.['ebb.dev/workload']).to.equal('default/shop');
    // Make the EndpointSlice controller reconcile the Service now that ours exists, and wait for
    // it: it copies the Service's labels onto its own slice, so its slice carrying a new label is
    // a reconcile done after ours was written. It must not have touched ours.
    await core.patchNamespacedService(
      { name: 'shop', namespace, body: { metadata: { labels: { reconciled: 'after-ours' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually('the EndpointSlice controller reconciling the Service', async () => {
      const theirs = (await slicesOf('shop')).find(
        (slice) => slice.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'] === 'endpointslice-controller.k8s.io',
      );
      return theirs?.metadata?.labels?.reconciled === 'after-ours' ? true : undefined;
    });
    const again = await discovery.readNamespacedEndpointSlice({ name: activatorSliceName('shop'), namespace });
    expect(again.metadata?.resourceVersion).to.equal(ours.metadata?.resourceVersion);
  });

  it('updates the endpoints when the agents change, and does not write when nothing changed', async () => {
    const slices = new ActivatorSlices(controlPlane().kubeConfig);
    await slices.ensure(activatorSlice(service, 'default/shop', [{ ip: '192.0.2.3' }], ports));
    const updated = await discovery.readNamespacedEndpointSlice({ name: activatorSliceName('shop'), namespace });
    expect(updated.endpoints?.map((endpoint) => endpoint.addresses[0])).to.deep.equal(['192.0.2.3']);
    await slices.ensure(activatorSlice(service, 'default/shop', [{ ip: '192.0.2.3' }], ports));
    const unchanged = await discovery.readNamespacedEndpointSlice({ name: activatorSliceName('shop'), namespace });
    expect(unchanged.metadata?.resourceVersion).to.equal(updated.metadata?.resourceVersion);
  });

  it('removes the slice, and a second removal is harmless', async () => {
    const slices = new ActivatorSlices(controlPlane().kubeConfig);
    await slices.remove(namespace, 'shop');
    await slices.remove(namespace, 'shop');
    expect((await slicesOf('shop')).map((slice) => slice.metadata?.name)).to.not.include(activatorSliceName('shop'));
  });

  it('is garbage-collected with its Service', async () => {
    const slices = new ActivatorSlices(controlPlane().kubeConfig);
    await slices.ensure(activatorSlice(service, 'default/shop', [{ ip: '192.0.2.1' }], ports));
    await core.deleteNamespacedService({ name: 'shop', namespace });
    await eventually('the slice gone', async () => ((await slicesOf('shop')).length === 0 ? true : undefined));
  });
});
