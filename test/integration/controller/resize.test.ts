// In-place right-sizing end to end on a real control plane (Kubernetes 1.35): KWOK plays a
// kubelet with in-place resize (it applies a resize, holds one back as Infeasible when it asks
// for more than the node's 32 CPU, or as Deferred while a test annotation is on the pod) and
// serves the usage a ClusterResourceUsage sets; the real agent reads it; the real controller
// (leader) recommends and resizes the running pods through `pods/resize`; the real webhook
// injected them. Each Deployment is one scenario; its container name picks its usage.

import { expect } from 'chai';
import { AutoscalingV2Api, PatchStrategy, setHeaderOptions, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { parseCpu, parseMemory } from '../../../src/core/quantity.ts';
import { PodResizer } from '../../../src/kube/pod-resize.ts';
import { clusterResourceUsage, createKwokObject } from '../../../src/localcluster/kwok-metrics.ts';
import { TEST_RESIZE_DEFERRED_ANNOTATION } from '../../../src/localcluster/kwok-stages.ts';
import { createNamespace, optedInNamespace, serviceAccountToken, useCluster } from '../../fixtures/cluster-support.ts';
import { runningPods } from '../../fixtures/pods.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { deployment } from '../../fixtures/deployments.ts';
import { startSizingController, type ControllerReady } from '../../fixtures/controller.ts';
import { killAll, type Started } from '../../fixtures/processes.ts';
import { useWebhook } from '../../fixtures/webhook.ts';

const namespace = 'shop';
const MiB = 2 ** 20;
const millicores = (quantity: string | undefined) => {
  const parsed = parseCpu(quantity ?? '');
  return parsed.ok ? parsed.value : NaN;
};
const bytes = (quantity: string | undefined) => {
  const parsed = parseMemory(quantity ?? '');
  return parsed.ok ? parsed.value : NaN;
};

describe('in-place resize on the real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 1 });
  useWebhook(controlPlane);
  let controller: Started<ControllerReady>;

  const createDeployment = (name: string, mode: string, container: V1Container) =>
    apps.createNamespacedDeployment({
      namespace,
      body: deployment(namespace, name, { annotations: { 'ebb.dev/resize': mode, 'ebb.dev/min-replicas': '1' }, container }),
    });
  const podOf = async (name: string): Promise<V1Pod> => (await runningPods(core, namespace, `app=${name}`, 1))[0]!;
  const podEvents = async (pod: string, reason: string) =>
    (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${pod},reason=${reason}` })).items;
  const anEvent = (pod: string, reason: string) =>
    eventually(
      `a ${reason} Event on ${pod}`,
      async () => {
        const found = await podEvents(pod, reason);
        return found.length > 0 ? found : undefined;
      },
      60_000,
    );
  const containerOf = (pod: V1Pod, name: string) => pod.spec?.containers.find((c) => c.name === name);
  const statusOf = (pod: V1Pod, name: string) => pod.status?.containerStatuses?.find((c) => c.name === name);
  /** The pod once its spec's requests for the container differ from `before` and the node reports them applied. */
  const resized = (name: string, uid: string, container: string, before: { cpu?: string; memory?: string }) =>
    eventually(
      `${name}'s resize applied`,
      async () => {
        const pod = (await core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items.find((p) => p.metadata?.uid === uid);
        const requests = pod && containerOf(pod, container)?.resources?.requests;
        const moved = requests && (requests.cpu !== before.cpu || requests.memory !== before.memory);
        const applied = pod && JSON.stringify(statusOf(pod, container)?.resources) === JSON.stringify(containerOf(pod, container)?.resources);
        return moved && applied && pod.status?.observedGeneration === pod.metadata?.generation ? pod : undefined;
      },
      60_000,
    );

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(controller.output.slice(-40).join('\n'));
  });

  before(async function () {
    this.timeout(120_000);
    await optedInNamespace(controlPlane().kubeConfig, namespace);
    // A short deferral timeout, so the Deferred scenario does not wait the default 5 minutes.
    await core.createNamespacedConfigMap({
      namespace: 'ebb-system',
      body: { metadata: { name: 'ebb-policy' }, data: { 'policy.yaml': 'resize: { deferredTimeout: 2s }\n' } },
    });
    const controllerToken = await serviceAccountToken(controlPlane().kubeConfig, 'ebb-system', 'ebb-controller');

    // `app` uses 400m and 300Mi; `big` 40 CPU, more than a node has. `slow` gets its usage later.
    await createKwokObject(
      controlPlane().kubeConfig,
      clusterResourceUsage('shop-usage', { matchNamespaces: [namespace] }, [
        { containers: ['app'], usage: { cpu: { value: '400m' }, memory: { value: '300Mi' } } },
        { containers: ['big'], usage: { cpu: { value: '40' }, memory: { value: '300Mi' } } },
      ]),
    );
    const small = { requests: { cpu: '100m', memory: '64Mi' } };
    await createDeployment('web', 'in-place', { name: 'app', resources: small });
    await createDeployment('steady', 'in-place', { name: 'app', resources: { ...small, limits: small.requests } });
    await createDeployment('huge', 'in-place', { name: 'big', resources: small });
    await createDeployment('huge-auto', 'auto', { name: 'big', resources: small });
    await createDeployment('scaled', 'in-place', { name: 'app', resources: small });
    await createDeployment('held', 'in-place', { name: 'slow', resources: small });
    await controlPlane()
      .kubeConfig.makeApiClient(AutoscalingV2Api)
      .createNamespacedHorizontalPodAutoscaler({
        namespace,
        body: {
          metadata: { name: 'scaled' },
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scaled' },
            minReplicas: 1,
            maxReplicas: 3,
            metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
          },
        },
      });
    for (const name of ['web', 'steady', 'huge', 'huge-auto', 'scaled', 'held']) await podOf(name);
    // The node will hold held's resize back: the annotation is on its pod before any usage (and so
    // any recommendation that could move its requests) exists.
    const held = await podOf('held');
    await core.patchNamespacedPod(
      { name: held.metadata!.name!, namespace, body: { metadata: { annotations: { [TEST_RESIZE_DEFERRED_ANNOTATION]: 'test' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

    controller = await startSizingController(controlPlane(), controllerToken);
  });
  after(async () => {
    await killAll();
  });

  it('resizes a running pod in place: the node applies it, the pod is not replaced, a Resized Event says what and why', async () => {
    const before = await podOf('web');
    const pod = await resized('web', before.metadata!.uid!, 'app', { cpu: '100m', memory: '64Mi' });
    const requests = containerOf(pod, 'app')!.resources!.requests!;
    // Usage (400m, 300Mi) with the margin and the short history's doubt on top: a raise.
    expect(millicores(requests.cpu)).to.be.at.least(400);
    expect(bytes(requests.memory)).to.be.at.least(300 * MiB);
    expect(statusOf(pod, 'app')?.restartCount).to.equal(0);
    expect(containerOf(pod, 'app')!.resources!.limits, 'no limit added').to.equal(undefined);
    const [event] = await anEvent(pod.metadata!.name!, 'Resized');
    expect(event!.type).to.equal('Normal');
    expect(event!.message).to.match(
      /^app: cpu request 100m → \S+ \(below the lower bound \S+\); app: memory request 64Mi → \S+ \(below the lower bound \S+\)$/,
    );
    expect(event!.involvedObject.uid).to.equal(before.metadata!.uid);
  });

  it('keeps a Guaranteed pod Guaranteed: requests and limits move together', async () => {
    const before = await podOf('steady');
    expect(before.status?.qosClass).to.equal('Guaranteed');
    const pod = await resized('steady', before.metadata!.uid!, 'app', { cpu: '100m', memory: '64Mi' });
    const { requests, limits } = containerOf(pod, 'app')!.resources!;
    expect(limits).to.deep.equal(requests);
    expect(bytes(requests!.memory)).to.be.at.least(300 * MiB);
    expect(pod.status?.qosClass).to.equal('Guaranteed');
  });

  it('Infeasible in mode in-place: a Warning Event, and the pod stays as it runs', async () => {
    const pod = await podOf('huge');
    const [event] = await anEvent(pod.metadata!.name!, 'ResizeInfeasible');
    expect(event!.type).to.equal('Warning');
    expect(event!.message).to.match(
      /^the node cannot fit the resize: Node didn't have enough capacity.*; ebb leaves the pod as it is \(resize mode in-place\)$/,
    );
    const now = await core.readNamespacedPod({ name: pod.metadata!.name!, namespace });
    expect(now.metadata?.deletionTimestamp).to.equal(undefined);
    expect(statusOf(now, 'big')?.resources?.requests).to.deep.equal({ cpu: '100m', memory: '64Mi' });
    expect(now.status?.conditions?.find((c) => c.type === 'PodResizePending')).to.deep.include({
      reason: 'Infeasible',
      observedGeneration: now.metadata?.generation,
    });
  });

  it('Infeasible in mode auto: the pod is offered for eviction (logged, with a Warning Event)', async () => {
    const pod = await podOf('huge-auto');
    const name = `${namespace}/${pod.metadata!.name}`;
    const [event] = await anEvent(pod.metadata!.name!, 'ResizeInfeasible');
    expect(event!.message).to.match(/; offered for eviction \(resize mode auto\)$/);
    const line = await eventually("the offer in the controller's log", () =>
      controller.output.find((l) => l.includes(`offered pod ${name} for eviction: the node cannot fit the resize`)),
    );
    expect(JSON.parse(line)).to.include({ level: 'info', workload: 'shop/huge-auto' });
  });

  it('an HPA on CPU utilization: CPU requests stay, memory is resized, and one Warning Event says why', async () => {
    const before = await podOf('scaled');
    const pod = await resized('scaled', before.metadata!.uid!, 'app', { cpu: '100m', memory: '64Mi' });
    expect(containerOf(pod, 'app')!.resources!.requests!.cpu).to.equal('100m');
    expect(containerOf(pod, 'app')!.resources!.requests!.memory).to.not.equal('64Mi');
    // The warning came before the resize was written; rounds since then said nothing more.
    const warnings = (
      await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=scaled,involvedObject.kind=Deployment,reason=ResizeConflictsWithHPA' })
    ).items;
    expect(warnings.map((e) => [e.type, e.count, e.message])).to.deep.equal([
      [
        'Warning',
        1,
        'HorizontalPodAutoscaler scaled scales this Deployment on cpu utilization, which is relative to the requests: ebb leaves the cpu requests of its running pods as they are',
      ],
    ]);
  });

  it("Deferred past the policy's timeout: a ResizeDeferred Event; once the node lets it, the resize is applied", async () => {
    const before = await podOf('held');
    await createKwokObject(
      controlPlane().kubeConfig,
      clusterResourceUsage('held-usage', { matchNamespaces: [namespace] }, [
        { containers: ['slow'], usage: { cpu: { value: '400m' }, memory: { value: '300Mi' } } },
      ]),
    );
    const [event] = await anEvent(before.metadata!.name!, 'ResizeDeferred');
    expect(event!.type).to.equal('Warning');
    expect(event!.message).to.match(
      /^the node has deferred the resize for \d+ s: Node didn't have enough resources \(held by ebb\.dev\/test-resize-deferred\); ebb leaves the pod as it is \(resize mode in-place\)$/,
    );
    await core.patchNamespacedPod(
      { name: before.metadata!.name!, namespace, body: { metadata: { annotations: { [TEST_RESIZE_DEFERRED_ANNOTATION]: null } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const pod = await resized('held', before.metadata!.uid!, 'slow', { cpu: '100m', memory: '64Mi' });
    expect(millicores(containerOf(pod, 'slow')!.resources!.requests!.cpu)).to.be.at.least(400);
  });

  it("pods/resize on this API server (1.35): a memory limit may come down; a stale write conflicts; a QoS change is refused with the server's reason", async () => {
    const resizer = new PodResizer(controlPlane().kubeConfig);
    expect(await resizer.allowsMemoryLimitDecrease()).to.equal(true);
    await createNamespace(core, 'direct');
    const resources = { requests: { cpu: '200m', memory: '256Mi' }, limits: { cpu: '200m', memory: '256Mi' } };
    await core.createNamespacedPod({
      namespace: 'direct',
      body: { metadata: { name: 'plain' }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1', resources }] } },
    });
    const running = (await runningPods(core, 'direct', '', 1))[0]!;
    const target = { namespace: 'direct', name: 'plain', resourceVersion: running.metadata!.resourceVersion! };
    const lower = { requests: { cpu: 200, memory: 128 * MiB }, limits: { cpu: 200, memory: 128 * MiB } };
    expect(await resizer.resize(target, [{ name: 'app', kind: 'app', ...lower }])).to.deep.equal({ outcome: 'written' });
    const applied = await eventually('the lower memory limit applied', async () => {
      const pod = await core.readNamespacedPod({ name: 'plain', namespace: 'direct' });
      return statusOf(pod, 'app')?.resources?.limits?.memory === '128Mi' ? pod : undefined;
    });
    expect(applied.status?.qosClass).to.equal('Guaranteed');
    // The resourceVersion the first write was planned from is stale now.
    expect(await resizer.resize(target, [{ name: 'app', kind: 'app', requests: { cpu: 100 }, limits: {} }])).to.deep.equal({ outcome: 'conflict' });
    const fresh = { ...target, resourceVersion: applied.metadata!.resourceVersion! };
    const refused = await resizer.resize(fresh, [{ name: 'app', kind: 'app', requests: { cpu: 100 }, limits: {} }]);
    expect(refused.outcome).to.equal('refused');
    expect(refused.outcome === 'refused' && refused.message).to.include('Pod QOS Class may not change as a result of resizing');
  });
});
