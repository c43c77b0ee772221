// The webhook through a real API server: pods created by the real ReplicaSet controller pass
// through it over TLS, and what is stored is what ebb promises (or untouched where it promises
// that). Pod IPs come from a non-loopback CIDR here, because the API server refuses loopback
// addresses in EndpointSlices and the Service test needs the real EndpointSlice controller.

import { expect } from 'chai';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { INJECTION_LABEL } from '../../../src/core/annotations.ts';
import { APP_PORT_NAME } from '../../../src/protocol/sidecar.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';
import { dryRunCreate, replicaSetPod, useWebhook } from '../../fixtures/webhook.ts';
import { deployment } from '../../fixtures/deployments.ts';
import { expectInjected, expectUntouched, injectedRecord, sidecarOf, Workloads } from './workloads.ts';

const LABELLED = 'shop';
const UNLABELLED = 'plain';
const RESTRICTED = 'locked';
const LIMITED = 'bounded';

describe('webhook: injection through the API server', function () {
  this.timeout(60_000);
  const controlPlane = useControlPlane({ nodes: 1, podCidr: '10.244.0.0/16' });
  const webhook = useWebhook(controlPlane);
  let cluster: Workloads;

  before(async function () {
    cluster = new Workloads(controlPlane().kubeConfig);
    await cluster.namespace(LABELLED, { [INJECTION_LABEL]: 'enabled' });
    await cluster.namespace(UNLABELLED);
    await cluster.namespace(RESTRICTED, { [INJECTION_LABEL]: 'enabled', 'pod-security.kubernetes.io/enforce': 'restricted' });
  });

  it('injects the pods of every Deployment in a labelled namespace', async () => {
    const pods = await cluster.deploy(deployment(LABELLED, 'web', { replicas: 2 }));
    for (const pod of pods) expectInjected(pod, `${LABELLED}/web`);
  });

  it('injects an annotated Deployment in an unlabelled namespace, and leaves the others alone', async () => {
    const [opted] = await cluster.deploy(deployment(UNLABELLED, 'api', { annotations: { 'ebb.dev/enabled': 'true' } }));
    expectInjected(opted!, `${UNLABELLED}/api`);
    const [other] = await cluster.deploy(deployment(UNLABELLED, 'batch'));
    expectUntouched(other!);
  });

  it('finds the owning Deployment through the ReplicaSet cache (a pod without the hash label)', async () => {
    const [replicaSet] = (await cluster.apps.listNamespacedReplicaSet({ namespace: UNLABELLED, labelSelector: 'app=api' })).items;
    const hash = replicaSet!.metadata!.labels!['pod-template-hash']!;
    const pod = replicaSetPod(UNLABELLED, 'api', { hash, replicaSetUid: replicaSet!.metadata!.uid!, withHashLabel: false });
    expectInjected(await dryRunCreate(controlPlane().kubeConfig, pod), `${UNLABELLED}/api`);
  });

  it('finds the owning Deployment from the pod-template-hash when the ReplicaSet is not cached', async () => {
    const pod = replicaSetPod(UNLABELLED, 'api', { hash: '7f6d5c4b3' });
    expectInjected(await dryRunCreate(controlPlane().kubeConfig, pod), `${UNLABELLED}/api`);
  });

  it('respects ebb.dev/enabled: "false" on a Deployment in a labelled namespace', async () => {
    const [pod] = await cluster.deploy(deployment(LABELLED, 'legacy', { annotations: { 'ebb.dev/enabled': 'false' } }));
    expectUntouched(pod!);
  });

  it('leaves kube-system alone, even a Deployment that asks for ebb', async () => {
    const [pod] = await cluster.deploy(deployment('kube-system', 'addon', { annotations: { 'ebb.dev/enabled': 'true' } }));
    expectUntouched(pod!);
  });

  it('admits an injected pod in a namespace that enforces the restricted Pod Security level', async () => {
    const restrictedApp = {
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
    };
    const [pod] = await cluster.deploy(deployment(RESTRICTED, 'secure', { container: restrictedApp }));
    expectInjected(pod!, `${RESTRICTED}/secure`);
    // The same pod without compliance is refused, so the check above was made by PodSecurity.
    const refused = await cluster.core.createNamespacedPod({ namespace: RESTRICTED, body: replicaSetPod(RESTRICTED, 'secure') }).then(
      () => undefined,
      (error: unknown) => (error as { code?: number }).code,
    );
    expect(refused).to.equal(403);
  });

  it("fits what it adds into the namespace's LimitRange, which would otherwise refuse the pod", async () => {
    await cluster.namespace(LIMITED, { [INJECTION_LABEL]: 'enabled' });
    await cluster.core.createNamespacedLimitRange({
      namespace: LIMITED,
      body: { metadata: { name: 'bounds' }, spec: { limits: [{ type: 'Container', min: { cpu: '50m', memory: '64Mi' }, max: { cpu: '2', memory: '1Gi' } }] } },
    });
    const [pod] = await cluster.deploy(deployment(LIMITED, 'bounded'));
    expect(injectedRecord(pod!)?.workload).to.equal(`${LIMITED}/bounded`);
    // LimitRanger gave the app its max as requests and limits (Guaranteed), so the sidecar's
    // requests equal its limits: the policy's 10m raised to the 50m minimum, memory at the
    // policy's 128Mi limit.
    expect(sidecarOf(pod!)!.resources).to.deep.equal({ requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '50m', memory: '128Mi' } });
    expect(pod!.status?.qosClass).to.equal('Guaranteed');
  });

  it('routes a Service that targets the port name to the sidecar (the real EndpointSlice controller resolves it)', async () => {
    await cluster.core.createNamespacedService({
      namespace: LABELLED,
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }] } },
    });
    const [pod] = await cluster.podsOf(LABELLED, 'web', 2);
    const listenPort = sidecarOf(pod!)!.ports!.find((port) => port.name === 'http')!.containerPort;
    const discovery = controlPlane().kubeConfig.makeApiClient(DiscoveryV1Api);
    const slice = await eventually('an EndpointSlice of Service web with both pods', async () => {
      const slices = await discovery.listNamespacedEndpointSlice({ namespace: LABELLED, labelSelector: 'kubernetes.io/service-name=web' });
      const found = slices.items.find((item) => (item.endpoints ?? []).length === 2);
      return found;
    });
    expect(slice.ports?.map((port) => port.port)).to.deep.equal([listenPort]);
    expect(listenPort).to.not.equal(8080);
  });

  it("keeps the app's probes and hooks pointing at a port of the app container (the kubelet resolves names there only)", async () => {
    const byName = { httpGet: { path: '/healthz', port: 'http' } };
    const [pod] = await cluster.deploy(
      deployment(LABELLED, 'probed', {
        container: {
          readinessProbe: byName,
          livenessProbe: { tcpSocket: { port: 'http' } },
          startupProbe: byName,
          lifecycle: { preStop: { httpGet: { path: '/drain', port: 'http' } } },
        },
      }),
    );
    expectInjected(pod!, `${LABELLED}/probed`);
    const app = pod!.spec!.containers[0]!;
    const own = new Set(app.ports?.map((port) => port.name));
    const named = [app.readinessProbe?.httpGet, app.livenessProbe?.tcpSocket, app.startupProbe?.httpGet, app.lifecycle?.preStop?.httpGet].map(
      (handler) => handler?.port,
    );
    expect(named).to.deep.equal([APP_PORT_NAME, APP_PORT_NAME, APP_PORT_NAME, APP_PORT_NAME]);
    for (const port of named) expect(own.has(String(port)), `port ${String(port)} declared by the app container`).to.equal(true);
  });

  it('mutates a server-side dry run the same way, and stores or counts nothing', async () => {
    const injections = () => webhook().metric('ebb_webhook_injections_total');
    const counted = await injections();
    const pod = await dryRunCreate(controlPlane().kubeConfig, replicaSetPod(LABELLED, 'web'));
    expectInjected(pod, `${LABELLED}/web`);
    expect(injectedRecord(pod)?.dryRun).to.equal(undefined);
    const stored = await cluster.core.listNamespacedPod({ namespace: LABELLED, labelSelector: 'app=web' });
    expect(stored.items).to.have.length(2);
    expect(await injections()).to.equal(counted);
    expect(counted).to.be.greaterThan(0);
  });

  it('admits a pod with an invalid annotation value, records the error, and uses the default', async () => {
    const [pod] = await cluster.deploy(deployment(LABELLED, 'typo', { templateAnnotations: { 'ebb.dev/target-concurrency': 'lots' } }));
    const record = injectedRecord(pod!);
    expect(record?.errors?.join('\n')).to.match(/ebb\.dev\/target-concurrency.*lots/);
    expect(record?.settings['target-concurrency']).to.equal('10');
    expect(sidecarOf(pod!)).to.not.equal(undefined);
  });
});
