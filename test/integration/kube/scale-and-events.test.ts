import { expect } from 'chai';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { EventRecorder } from '../../../src/kube/events.ts';
import { readScale, writeScale } from '../../../src/kube/scale.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';

describe('scale writes and events on the real API server', function () {
  this.timeout(60_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  const namespace = 'default';
  let apps: AppsV1Api;

  // The Deployment controller writes status after every change, which moves the resourceVersion;
  // a test that expects its own write to go through waits until the Deployment is at rest.
  const atRest = () =>
    eventually('the Deployment at rest', async () => {
      const deployment = await apps.readNamespacedDeployment({ name: 'scaled', namespace });
      const status = deployment.status;
      return status?.observedGeneration === deployment.metadata?.generation && (status?.readyReplicas ?? 0) === deployment.spec?.replicas ? true : undefined;
    });

  before(async () => {
    apps = controlPlane().kubeConfig.makeApiClient(AppsV1Api);
    const labels = { app: 'scaled' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'scaled', namespace },
        spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } },
      },
    });
  });

  it('writes replicas guarded by the resourceVersion it read', async () => {
    await atRest();
    const read = await readScale(apps, namespace, 'scaled');
    expect(read.replicas).to.equal(1);
    const written = await writeScale(apps, namespace, 'scaled', 3, read.resourceVersion);
    expect(written.outcome).to.equal('written');
    expect((await readScale(apps, namespace, 'scaled')).replicas).to.equal(3);
  });

  it('reports a conflict, and writes nothing, when the Deployment changed since the read', async () => {
    await atRest();
    const stale = await readScale(apps, namespace, 'scaled');
    expect((await writeScale(apps, namespace, 'scaled', 4, stale.resourceVersion)).outcome).to.equal('written'); // someone else's change
    const result = await writeScale(apps, namespace, 'scaled', 1, stale.resourceVersion);
    expect(result.outcome).to.equal('conflict');
    expect((await readScale(apps, namespace, 'scaled')).replicas).to.equal(4);
  });

  it('records an Event and counts repeats in the same Event', async () => {
    const recorder = new EventRecorder(controlPlane().kubeConfig, 'ebb-controller');
    const target = { kind: 'Deployment', apiVersion: 'apps/v1', namespace, name: 'scaled' };
    await recorder.record(target, 'Warning', 'InvalidAnnotation', 'ebb.dev/min-replicas: "x" is not a whole number');
    await recorder.record(target, 'Warning', 'InvalidAnnotation', 'ebb.dev/min-replicas: "x" is not a whole number');
    await recorder.record(target, 'Normal', 'Scaled', '1 → 2');
    const core = controlPlane().kubeConfig.makeApiClient(CoreV1Api);
    const events = (await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=scaled' })).items;
    const warning = events.filter((event) => event.reason === 'InvalidAnnotation');
    expect(warning).to.have.length(1);
    expect(warning[0]?.count).to.equal(2);
    expect(warning[0]?.type).to.equal('Warning');
    expect(events.filter((event) => event.reason === 'Scaled')).to.have.length(1);
  });
});
