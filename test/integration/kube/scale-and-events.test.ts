import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { EventRecorder } from '../../../src/kube/events.ts';
import { statusMessage } from '../../../src/kube/errors.ts';
import { answeredWithMetadataOnly } from '../../../src/kube/metadata-answer.ts';
import { moveReplicas, readReplicas } from '../../../src/kube/scale.ts';
import { useControlPlane } from '../../fixtures/control-plane.ts';

describe('scale writes and events on the real API server', function () {
  this.timeout(60_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  const namespace = 'default';
  let apps: AppsV1Api;

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

  it('moves the count from the one it was told, to zero and back', async () => {
    expect(await moveReplicas(apps, namespace, 'scaled', { from: 1, to: 3 })).to.equal('written');
    expect(await readReplicas(apps, namespace, 'scaled')).to.equal(3);
    expect(await moveReplicas(apps, namespace, 'scaled', { from: 3, to: 0 })).to.equal('written');
    expect(await readReplicas(apps, namespace, 'scaled')).to.equal(0);
    // A Scale at zero leaves `replicas` out: the guard must still hold, then let the wake-up through.
    expect(await moveReplicas(apps, namespace, 'scaled', { from: 2, to: 5 })).to.equal('moved');
    expect(await moveReplicas(apps, namespace, 'scaled', { from: 0, to: 1 })).to.equal('written');
    expect(await readReplicas(apps, namespace, 'scaled')).to.equal(1);
  });

  it('writes nothing, and says so, when the count is no longer the one it was told', async () => {
    expect(await moveReplicas(apps, namespace, 'scaled', { from: 1, to: 4 })).to.equal('written'); // someone else's change
    expect(await moveReplicas(apps, namespace, 'scaled', { from: 1, to: 2 })).to.equal('moved');
    expect(await moveReplicas(apps, namespace, 'scaled', { from: 0, to: 2 })).to.equal('moved');
    expect(await readReplicas(apps, namespace, 'scaled')).to.equal(4);
  });

  it('goes through while others write the Deployment, as the Deployment controller and status annotations do', async () => {
    const annotate = (value: string) =>
      apps.patchNamespacedDeployment(
        { name: 'scaled', namespace, body: { metadata: { annotations: { 'ebb.dev/status': value } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    let count = await readReplicas(apps, namespace, 'scaled');
    for (let round = 0; round < 10; round++) {
      const next = count === 4 ? 5 : 4;
      const [moved] = await Promise.all([moveReplicas(apps, namespace, 'scaled', { from: count, to: next }), annotate(`round ${round}`)]);
      expect(moved, `round ${round}`).to.equal('written');
      count = next;
    }
    expect(await readReplicas(apps, namespace, 'scaled')).to.equal(count);
  });

  it('refuses a count the API server does not accept, as an error rather than a move', async () => {
    const count = await readReplicas(apps, namespace, 'scaled');
    const error: unknown = await moveReplicas(apps, namespace, 'scaled', { from: count, to: -1 }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(statusMessage(error)).to.match(/spec\.replicas: Invalid value: -1/);
    expect(await readReplicas(apps, namespace, 'scaled')).to.equal(count);
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

  it('writes what it is told when asked to answer with the metadata only, and is answered without the spec', async () => {
    const answer = await apps.patchNamespacedDeploymentWithHttpInfo(
      { name: 'scaled', namespace, body: { metadata: { annotations: { 'ebb.dev/status': 'metadata only' } } } },
      answeredWithMetadataOnly(setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    );
    expect(answer.httpStatusCode).to.equal(200);
    expect(answer.data.kind).to.equal('PartialObjectMetadata');
    expect(answer.data.metadata?.annotations?.['ebb.dev/status']).to.equal('metadata only');
    expect(answer.data.spec).to.equal(undefined);
    const stored = await apps.readNamespacedDeployment({ name: 'scaled', namespace });
    expect(stored.metadata?.annotations?.['ebb.dev/status']).to.equal('metadata only');
    expect(stored.spec?.template.spec?.containers[0]?.image).to.equal('app:1');
  });
});
