// Chaos on the admission side, under steady load through real interceptors: the webhook's serving
// certificate is rotated while pods are being created, and the webhook is down while a Deployment
// rolls out. Every program is real: the webhook (registered with the API server over TLS), the
// controller (leader; it repairs pods that missed the webhook), the agent, and the app and
// interceptor processes on the pods' loopback IPs, started from what each pod declares (the
// sidecar the webhook injected, or the app alone in a pod it did not see). The test plays the
// kubelet and kube-proxy (pod-processes.ts) and counts every answer.
//
// Workload `web`: 2 replicas, 6 clients whose requests take 200 ms, target 4 in flight per pod:
// the load wants the 2 it has, so any scale write is a flap.

import { expect } from 'chai';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION } from '../../../src/core/annotations.ts';
import { SIDECAR_NAME } from '../../../src/protocol/sidecar.ts';
import { uniqueLoopbackHost } from '../../fixtures/activator.ts';
import { injectedByWebhook } from '../../fixtures/pods.ts';
import { agentTokenFile, optedInNamespace, serviceAccountToken, useCluster } from '../../fixtures/cluster-support.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { deployment } from '../../fixtures/deployments.ts';
import { startController, type ControllerReady } from '../../fixtures/controller.ts';
import { startLoad, type RunningLoad } from '../../fixtures/load.ts';
import { freePort, killAll, startClusterAgent, type Started } from '../../fixtures/processes.ts';
import { dryRunCreate, replicaSetPod, useWebhook } from '../../fixtures/webhook.ts';
import { apiServerMetric, metricOf } from '../../fixtures/metrics.ts';
import { describeFailures, followConnections, followReplicas, isLeader, recordScenario, scaleWrites } from './chaos-support.ts';
import { PodProcesses } from './pod-processes.ts';

const namespace = 'shop';
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const WEBHOOK = 'name="pods.webhook.ebb.dev"';
const ROTATIONS = 3;
/** The pod stream during the rotations: 2 more replicas of `burst` every 300 ms, at most this many. */
const BURST_MAX = 48;

const missedWebhook = (pod: V1Pod) =>
  pod.metadata?.annotations?.[INJECTED_ANNOTATION] === undefined && !(pod.spec?.initContainers ?? []).some((c) => c.name === SIDECAR_NAME);

describe('chaos: the webhook rotated and down, under load', function () {
  this.timeout(180_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 1 });
  const webhook = useWebhook(controlPlane);
  let controller: Started<ControllerReady>;
  let pods: PodProcesses;
  let load: RunningLoad | undefined;
  let followed: ReturnType<typeof followReplicas> | undefined;
  let stream: { stop(): Promise<void> } | undefined;

  const live = async (app: string) =>
    (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items.filter((pod) => !pod.metadata?.deletionTimestamp);
  const scale = (name: string, replicas: number) => apps.patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas } } }, MERGE_PATCH);
  const webLoad = () => startLoad(0, { concurrency: 6, durationMs: 150_000, maxRequests: 8_000, target: pods.target });
  const createDeployment = (name: string, replicas: number, annotations: Record<string, string>, appPort: number) =>
    apps.createNamespacedDeployment({
      namespace,
      body: deployment(namespace, name, { replicas, annotations, container: { ports: [{ name: 'http', containerPort: appPort }] } }),
    });

  before(async function () {
    this.timeout(120_000);
    const kubeConfig = controlPlane().kubeConfig;
    await optedInNamespace(kubeConfig, namespace);
    // The sidecar's ports: free ones (another run on this machine may use the same pod IPs), and
    // evictions at most one a second (the default, 5 a minute, would make the repair take long).
    const policyLoads = () =>
      webhook()
        .output()
        .filter((line) => line.includes('"policy loaded"')).length;
    const loadsBefore = policyLoads();
    await core.createNamespacedConfigMap({
      namespace: 'ebb-system',
      body: {
        metadata: { name: 'ebb-policy' },
        data: { 'policy.yaml': `sidecar:\n  listenPort: ${await freePort()}\n  adminPort: ${await freePort()}\neviction:\n  ratePerMinute: 60\n` },
      },
    });
    await eventually('the webhook loading the policy', () => (policyLoads() > loadsBefore ? true : undefined));

    const controllerToken = await serviceAccountToken(kubeConfig, 'ebb-system', 'ebb-controller');
    const agent = await startClusterAgent(controlPlane().kubeconfigPath, controlPlane().nodeNames[0]!, {
      EBB_TOKEN_FILE: await agentTokenFile(controlPlane()),
      EBB_ACTIVATOR_HOST: uniqueLoopbackHost(),
    });
    controller = await startController(controlPlane(), 'controller-a', controllerToken, {
      EBB_AGENT_URLS: `http://127.0.0.1:${agent.ready.activity}`,
      EBB_ACTIVATOR_ADDRESSES: '192.0.2.10', // the API server refuses loopback in EndpointSlices; no traffic goes there
      EBB_TICK_MS: '1000',
      // The repair runs with the usage round.
      EBB_USAGE_INTERVAL_MS: '1000',
    });
    await eventually('the controller leading', async () => ((await isLeader(controller.ready.port)) ? true : undefined), 30_000);

    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
    });
    await createDeployment(
      'web',
      2,
      { 'ebb.dev/target-concurrency': '4', 'ebb.dev/min-replicas': '1', 'ebb.dev/max-replicas': '4', 'ebb.dev/idle-after': '10m' },
      await freePort(),
    );
    // Pods to create during the rotation; ebb leaves its replicas to the test.
    await createDeployment('burst', 0, { 'ebb.dev/paused': 'true' }, await freePort());
    const first = await eventually('2 pods of web, injected', async () => {
      const found = await live('web');
      return found.length === 2 && found.every(injectedByWebhook) ? found : undefined;
    });
    expect(first).to.have.length(2);
    pods = new PodProcesses(core, namespace, 'app=web', `${namespace}/web`, 200);
    pods.start();
    await eventually(
      'both pods serving through their interceptors',
      () => (pods.routable().filter((endpoint) => endpoint.injected).length === 2 ? true : undefined),
      30_000,
    );
  });

  after(async () => {
    await pods?.close();
    await killAll();
  });

  afterEach(async function () {
    await stream?.stop();
    load?.stop();
    await load?.done;
    await followed?.stop();
    if (this.currentTest?.state !== 'failed') return;
    console.log(`--- controller\n${controller.output.slice(-40).join('\n')}`);
    console.log(`--- webhook\n${webhook().output().slice(-15).join('\n')}`);
    console.log(`--- endpoints: ${JSON.stringify([...pods.endpoints.values()])} ${pods.errors.join('\n')}`);
  });

  // Fails if: a renewed pair is not served (the reload fails or keeps the old one), a handshake
  // with it fails (the API server then fails open: a pod without the sidecar, fail_open_count > 0),
  // an admission is refused, or the API server never opens a connection after a rotation (the
  // renewed certificate untested); a request of the load fails or web is scaled.
  it('(d) rotates the serving certificate 3 times while pods are created: every pod admitted with the sidecar, none failed open', async () => {
    const startedAt = Date.now();
    const writesBefore = await scaleWrites(controller.ready.port);
    const kubeConfig = controlPlane().kubeConfig;
    const callsBefore = await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_admission_duration_seconds_count', WEBHOOK);
    const failedOpenBefore = await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_fail_open_count', WEBHOOK);
    const rejectedBefore = await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_rejection_count', WEBHOOK);
    const serialBefore = await webhook().servedSerial();
    const connections = followConnections(webhook().port, controlPlane().processes.find((component) => component.name === 'kube-apiserver')!.pid);
    load = webLoad();
    followed = followReplicas(apps, namespace, 'web');

    // Pods are created all along: the stream runs before the first rotation and after the last.
    let replicas = 0;
    let streaming = true;
    const steps: number[] = [];
    const streamed = (async () => {
      while (streaming && replicas < BURST_MAX) {
        replicas += 2;
        await scale('burst', replicas);
        steps.push(Date.now());
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    })();
    stream = { stop: async () => ((streaming = false), await streamed) };
    await eventually('the pod stream under way', () => (steps.length >= 2 ? true : undefined));
    // Pods as burst's ReplicaSet makes them, created with dryRun (admitted, not stored) at once.
    const [replicaSet] = (await apps.listNamespacedReplicaSet({ namespace, labelSelector: 'app=burst' })).items;
    const burstPod = replicaSetPod(namespace, 'burst', { hash: replicaSet!.metadata!.labels!['pod-template-hash'], replicaSetUid: replicaSet!.metadata!.uid });
    const serials: string[] = [];
    const servedAt: number[] = [];
    const dryRun: V1Pod[] = [];
    const rotationsFrom = Date.now();
    for (let rotation = 0; rotation < ROTATIONS; rotation++) {
      serials.push(await webhook().rotateCertificate());
      servedAt.push(Date.now());
      // The API server keeps its connections to the webhook: only admissions beyond them open new
      // ones, each a TLS handshake with the renewed certificate. Bursts until it has opened one.
      const since = Date.now();
      await eventually(
        'the API server opening a connection to the webhook after the rotation',
        async () => {
          const concurrent = connections.established() + 8;
          dryRun.push(...(await Promise.all(Array.from({ length: concurrent }, () => dryRunCreate(kubeConfig, burstPod)))));
          return [...connections.firstSeen.values()].some((at) => at > since) ? true : undefined;
        },
        15_000,
      );
    }
    const rotationsTo = Date.now();
    await eventually(
      'the pod stream going on after the last rotation',
      () => (steps.some((at) => at > rotationsTo) || replicas >= BURST_MAX ? true : undefined),
      10_000,
    );
    await stream.stop();
    const created = await eventually(
      `${replicas} pods of burst`,
      async () => {
        const found = await live('burst');
        return found.length === replicas ? found : undefined;
      },
      60_000,
    );
    load.stop();
    const result = await load.done;
    await followed.stop();
    await connections.stop();

    // The API server's connections to the webhook opened after a rotation was served: each went
    // through a TLS handshake with a renewed certificate.
    const opened = [...connections.firstSeen.values()];
    const handshakesAfterRotation = servedAt.map((at, i) => opened.filter((seen) => seen > at && seen <= (servedAt[i + 1] ?? Infinity)).length);
    const calls = (await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_admission_duration_seconds_count', WEBHOOK)) - callsBefore;
    const failedOpen = (await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_fail_open_count', WEBHOOK)) - failedOpenBefore;
    const rejected = (await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_rejection_count', WEBHOOK)) - rejectedBefore;
    const withSidecar = created.filter(injectedByWebhook).length;
    const dryRunWithSidecar = dryRun.filter(injectedByWebhook).length;
    const writes = (await scaleWrites(controller.ready.port)) - writesBefore;
    const figures = recordScenario({
      scenario: '(d) webhook certificate rotated ×3 during pod creation',
      loads: [result],
      scaleWrites: writes,
      expectedWrites: '0: no flapping',
      startedAt,
      details: {
        'pods created': created.length,
        'with the sidecar': withSidecar,
        'admitted with dryRun right after each rotation': `${dryRun.length}, ${dryRunWithSidecar} with the sidecar`,
        'webhook calls': calls,
        'failed open': failedOpen,
        rejected: rejected,
        'API server connections opened before / after each rotation': [opened.filter((seen) => seen <= servedAt[0]!).length, ...handshakesAfterRotation].join(
          ' / ',
        ),
        'replicas asked for before / during / after the rotations': [
          steps.filter((at) => at < rotationsFrom),
          steps.filter((at) => at >= rotationsFrom && at <= rotationsTo),
          steps.filter((at) => at > rotationsTo),
        ]
          .map((list) => list.length * 2)
          .join(' / '),
      },
    });
    expect(new Set([serialBefore, ...serials]).size, 'a new certificate each time').to.equal(ROTATIONS + 1);
    expect(await webhook().servedSerial()).to.equal(serials.at(-1));
    expect(withSidecar, 'pods with the sidecar').to.equal(created.length);
    expect(dryRunWithSidecar, 'dry-run pods with the sidecar').to.equal(dryRun.length);
    // Else the renewed certificates were never presented to the API server.
    expect(
      handshakesAfterRotation.every((count) => count >= 1),
      `API server connections opened after each rotation: ${handshakesAfterRotation.join(', ')}`,
    ).to.equal(true);
    expect(failedOpen, 'admissions that failed open').to.equal(0);
    expect(rejected, 'admissions refused').to.equal(0);
    expect(calls, 'webhook calls').to.be.at.least(created.length + dryRun.length);
    expect(figures.failed, describeFailures(result)).to.equal(0);
    expect(figures.ok).to.equal(result.sent);
    expect(writes, 'scale writes').to.equal(0);
    expect([...followed.seen], 'replica counts of web').to.deep.equal([2]);
    await scale('burst', 0);
  });

  // Fails if: the API server refuses pods while the webhook is down (not fail-open) or the pods get
  // a sidecar anyway; the repair does not replace both with injected pods within 90 s of the
  // webhook's return (no Repaired Event, ebb_repairs_total < 2); a request fails during the
  // rollout or the repair (a pod replaced while it serves the last requests); web is scaled.
  it('(e) stops the webhook while web rolls out: its pods are admitted without the sidecar (fail open), then repaired into injected ones; no request fails', async () => {
    const startedAt = Date.now();
    const kubeConfig = controlPlane().kubeConfig;
    const writesBefore = await scaleWrites(controller.ready.port);
    const repairsBefore = await metricOf(controller.ready.port, 'ebb_repairs_total');
    const failedOpenBefore = await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_fail_open_count', WEBHOOK);
    const original = new Set((await live('web')).map((pod) => pod.metadata?.uid));
    load = webLoad();
    followed = followReplicas(apps, namespace, 'web');

    const evictedBefore = await metricOf(controller.ready.port, 'ebb_evictions_total', 'outcome="evicted"');
    await webhook().stopProcess();
    const downAt = Date.now();
    await apps.patchNamespacedDeployment(
      { name: 'web', namespace, body: { spec: { template: { metadata: { annotations: { 'example.com/rollout': String(downAt) } } } } } },
      MERGE_PATCH,
    );
    const missed = new Set<string>();
    await eventually(
      'web rolled out to 2 pods without the sidecar, serving',
      async () => {
        const found = await live('web');
        for (const pod of found.filter(missedWebhook)) missed.add(pod.metadata!.uid!);
        const rolled = found.length === 2 && found.every((pod) => !original.has(pod.metadata?.uid) && missedWebhook(pod));
        const serving = pods.routable().filter((endpoint) => missed.has(endpoint.uid) && !endpoint.injected).length === 2;
        return rolled && serving ? true : undefined;
      },
      60_000,
    );
    const failedOpen = (await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_fail_open_count', WEBHOOK)) - failedOpenBefore;

    const evictedWhileDown = (await metricOf(controller.ready.port, 'ebb_evictions_total', 'outcome="evicted"')) - evictedBefore;
    await webhook().startProcess();
    const upAt = Date.now();
    // A pod created now shows the repair that the webhook answers again (until one does, it
    // replaces one pod at a time, as a probe, not every pod in vain).
    await scale('burst', 1);
    await eventually(
      'a new pod of burst, injected',
      async () =>
        (await live('burst')).some((pod) => injectedByWebhook(pod) && Date.parse(String(pod.metadata?.creationTimestamp)) >= upAt - 1_000) ? true : undefined,
      30_000,
    );
    const repaired = await eventually(
      'web repaired: 2 injected pods, serving through their interceptors',
      async () => {
        const found = await live('web');
        const done = found.length === 2 && found.every((pod) => injectedByWebhook(pod) && !original.has(pod.metadata?.uid) && !missed.has(pod.metadata!.uid!));
        const uids = new Set(found.map((pod) => pod.metadata!.uid!));
        const serving = pods.routable().filter((endpoint) => uids.has(endpoint.uid) && endpoint.injected).length === 2;
        return done && serving ? uids : undefined;
      },
      90_000,
    );
    const repairedMs = Date.now() - upAt;
    await eventually(
      "100 answers through the repaired pods' interceptors",
      () => (pods.answeredThroughInterceptors(repaired) >= 100 ? true : undefined),
      30_000,
    );
    load.stop();
    const result = await load.done;
    await followed.stop();

    const repairs = (await metricOf(controller.ready.port, 'ebb_repairs_total')) - repairsBefore;
    const repairedEvents = (
      await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.kind=Deployment,involvedObject.name=web,reason=Repaired' })
    ).items;
    const writes = (await scaleWrites(controller.ready.port)) - writesBefore;
    const figures = recordScenario({
      scenario: '(e) webhook down during a rollout',
      loads: [result],
      scaleWrites: writes,
      expectedWrites: '0: no flapping',
      startedAt,
      details: {
        'pods admitted without the sidecar': missed.size,
        'failed open': failedOpen,
        'answered by pods without the sidecar': pods.answeredDirectly(),
        "evicted while the webhook was down (the repair's probe)": evictedWhileDown,
        'repaired (evicted, replaced through the webhook)': repairs,
        'all replaced by injected pods after the webhook was back': `${(repairedMs / 1000).toFixed(1)} s`,
      },
    });
    expect(missed.size, 'pods admitted without the sidecar').to.be.at.least(2);
    expect(failedOpen, 'admissions that failed open').to.be.at.least(2);
    expect(repairs, 'ebb_repairs_total').to.be.at.least(2);
    expect(repairedEvents.map((event) => event.message).join('\n')).to.include("created without ebb's sidecar");
    expect(figures.failed, describeFailures(result)).to.equal(0);
    expect(figures.ok).to.equal(result.sent);
    expect(writes, 'scale writes').to.equal(0);
    expect([...followed.seen], 'replica counts of web').to.deep.equal([2]);
  });
});
