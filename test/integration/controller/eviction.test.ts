// Disruptions on the real control plane: the real controller (leader) replaces pods only through
// the Eviction API, under its safety rules, while the real webhook injects the replacements and
// the real agent feeds the recommender from KWOK's usage. Pods that missed the webhook are
// repaired once a pod created after them was injected (the sign that the webhook answers); a
// Deployment opted in after its pods exist is repaired the same way (the tests below use that to
// offer pods without stopping the webhook); pods out of range in `ebb.dev/resize: evict` are
// offered by the in-place resizer. Measured from the cluster itself: the pods'
// deletion timestamps, the Deployments' readyReplicas from a watch, the API server's own count of
// eviction requests.

import { expect } from 'chai';
import { PatchStrategy, PolicyV1Api, setHeaderOptions, Watch, type KubeConfig, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { clusterResourceUsage, createKwokObject } from '../../../src/localcluster/kwok-metrics.ts';
import { createNamespace, optedInNamespace, serviceAccountToken, useCluster } from '../../fixtures/cluster-support.ts';
import { injectedByWebhook, runningPods } from '../../fixtures/pods.ts';
import { agentMetric } from '../../fixtures/agents.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { deployment } from '../../fixtures/deployments.ts';
import { startSizingController, type ControllerReady } from '../../fixtures/controller.ts';
import { killAll, type Started } from '../../fixtures/processes.ts';
import { apiServerMetric } from '../../fixtures/metrics.ts';
import { useWebhook } from '../../fixtures/webhook.ts';

/** Opted in by its label: pods get the sidecar at creation. */
const SHOP = 'shop';
/** Not labelled: a Deployment here is opted in (ebb.dev/enabled) after its pods exist. */
const LATE = 'late';
/** Evictions per minute in the suite's policy: one every 5 s. */
const RATE = 12;
const SPACING_MS = 60_000 / RATE;
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const policyYaml = (dryRun: boolean) => `eviction:\n  ratePerMinute: ${RATE}\n  windows: ["00:00-24:00"]\n  dryRun: ${dryRun}\n`;

/** The app's requests: the pods' sizes the evictions are about. */
const REQUESTS = { resources: { requests: { cpu: '100m', memory: '64Mi' } } };

const uid = (pod: V1Pod) => pod.metadata?.uid ?? '';
const ready = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** The API server's own count of eviction requests it answered with `code`, from its /metrics. */
const evictionRequests = (kubeConfig: KubeConfig, code: number) =>
  apiServerMetric(kubeConfig, 'apiserver_request_total', 'subresource="eviction"', `code="${code}"`);

describe('disruptions on the real control plane', function () {
  this.timeout(120_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 1 });
  const webhook = useWebhook(controlPlane);
  let controller: Started<ControllerReady>;

  const pods = async (namespace: string, app: string) => (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
  const live = async (namespace: string, app: string) => (await pods(namespace, app)).filter((pod) => !pod.metadata?.deletionTimestamp);
  const events = async (namespace: string, name: string, reason: string) =>
    (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=Deployment,involvedObject.name=${name},reason=${reason}` })).items;
  const optIn = (namespace: string, name: string) =>
    apps.patchNamespacedDeployment({ name, namespace, body: { metadata: { annotations: { 'ebb.dev/enabled': 'true' } } } }, MERGE_PATCH);
  const controllerMetric = async (series: string) => (await agentMetric(controller.ready.port, series)) ?? 0;
  const policyLoads = () => controller.output.filter((line) => line.includes('"policy loaded"')).length;
  /** Writes the policy and waits until the controller has loaded it. */
  const setPolicy = async (dryRun: boolean) => {
    const loads = policyLoads();
    await core.replaceNamespacedConfigMap({
      name: 'ebb-policy',
      namespace: 'ebb-system',
      body: { metadata: { name: 'ebb-policy' }, data: { 'policy.yaml': policyYaml(dryRun) } },
    });
    await eventually('the controller loading the policy', () => (policyLoads() > loads ? true : undefined));
  };
  let witnesses = 0;
  /** A pod injected now: the sign that the webhook answers, after which the pods that missed it are repaired. */
  const witnessInjection = async () => {
    const name = `witness-${++witnesses}`;
    await apps.createNamespacedDeployment({ namespace: SHOP, body: deployment(SHOP, name, { container: REQUESTS }) });
    const [pod] = await runningPods(core, SHOP, `app=${name}`, 1);
    expect(injectedByWebhook(pod!), 'the witness pod injected').to.equal(true);
  };
  /** Watches a Deployment and keeps every state the watch reports. */
  const watchDeployment = async (namespace: string, name: string) => {
    const seen: { replicas: number; ready: number }[] = [];
    const abort = await new Watch(controlPlane().kubeConfig).watch(
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      { fieldSelector: `metadata.name=${name}` },
      (_type, object: V1Deployment) => seen.push({ replicas: object.spec?.replicas ?? 0, ready: object.status?.readyReplicas ?? 0 }),
      () => undefined,
    );
    return { seen, stop: () => abort.abort() };
  };

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(controller.output.slice(-40).join('\n'));
  });

  before(async function () {
    this.timeout(120_000);
    await optedInNamespace(controlPlane().kubeConfig, SHOP);
    await createNamespace(core, LATE);
    await core.createNamespacedConfigMap({ namespace: 'ebb-system', body: { metadata: { name: 'ebb-policy' }, data: { 'policy.yaml': policyYaml(false) } } });
    const controllerToken = await serviceAccountToken(controlPlane().kubeConfig, 'ebb-system', 'ebb-controller');
    // Every app container in shop uses 400m and 300Mi: pods that request 100m and 64Mi are out of range.
    await createKwokObject(
      controlPlane().kubeConfig,
      clusterResourceUsage('shop-usage', { matchNamespaces: [SHOP] }, [{ containers: ['app'], usage: { cpu: { value: '400m' }, memory: { value: '300Mi' } } }]),
    );
    controller = await startSizingController(controlPlane(), controllerToken);
    await eventually('the controller leading', async () => ((await controllerMetric('ebb_controller_leader')) === 1 ? true : undefined));
  });
  after(async () => {
    await killAll();
  });

  it('replaces pods admitted while the webhook was stopped by injected ones, one at a time, and says Repaired', async () => {
    await webhook().stopProcess();
    await apps.createNamespacedDeployment({ namespace: SHOP, body: deployment(SHOP, 'mended', { replicas: 2, container: REQUESTS }) });
    const missed = await runningPods(core, SHOP, 'app=mended', 2);
    expect(missed.filter(injectedByWebhook), 'the webhook fails open').to.deep.equal([]);
    await webhook().startProcess();
    // Through the outage (seconds, a controller round every second) nothing was replaced in vain:
    // no pod has been injected since these missed the webhook.
    expect((await live(SHOP, 'mended')).map(uid).sort()).to.deep.equal(missed.map(uid).sort());
    await witnessInjection();

    const original = new Set(missed.map(uid));
    const replaced = await eventually(
      'both pods replaced by injected, Ready ones',
      async () => {
        const current = await live(SHOP, 'mended');
        return current.length === 2 && current.every((pod) => injectedByWebhook(pod) && ready(pod) && !original.has(uid(pod))) ? current : undefined;
      },
      60_000,
    );
    expect(replaced).to.have.length(2);
    const repaired = await eventually('Repaired Events for both', async () => {
      const found = await events(SHOP, 'mended', 'Repaired');
      return found.length >= 2 ? found : undefined;
    });
    for (const pod of missed) {
      expect(repaired.map((event) => event.message)).to.include(
        `evicted pod ${SHOP}/${pod.metadata?.name}, which was created without ebb's sidecar (while the webhook was down, which fails open, or before the workload was opted in); its replacement goes through the webhook`,
      );
    }
    expect(await controllerMetric('ebb_repairs_total')).to.be.at.least(2);
  });

  it('replaces the only pod of a single-replica workload through a surge replica, with a Ready pod at every moment, then returns to one', async () => {
    await apps.createNamespacedDeployment({ namespace: LATE, body: deployment(LATE, 'solo', { container: REQUESTS }) });
    const [original] = await runningPods(core, LATE, 'app=solo', 1);
    const watch = await watchDeployment(LATE, 'solo');
    try {
      await eventually('the watch seeing solo Ready', () => (watch.seen.some((state) => state.ready === 1) ? true : undefined));
      const from = watch.seen.length;
      await optIn(LATE, 'solo');
      await witnessInjection();
      const replacement = await eventually(
        'the pod replaced and the count back to one',
        async () => {
          const current = await live(LATE, 'solo');
          const state = watch.seen.at(-1);
          return state?.replicas === 1 &&
            state.ready === 1 &&
            current.length === 1 &&
            uid(current[0]!) !== uid(original!) &&
            injectedByWebhook(current[0]!) &&
            ready(current[0]!)
            ? current[0]
            : undefined;
        },
        60_000,
      );
      const during = watch.seen.slice(from);
      expect(
        during.map((state) => state.replicas),
        'the surge',
      ).to.include(2);
      expect(Math.min(...during.map((state) => state.ready)), JSON.stringify(during)).to.be.at.least(1);
      expect(replacement.metadata?.name).to.not.equal(original!.metadata?.name);
    } finally {
      watch.stop();
    }
    const scaled = (await events(LATE, 'solo', 'Scaled')).map((event) => event.message ?? '');
    expect(
      scaled.some((message) => message.startsWith(`1 → 2: one replica more while pod ${LATE}/${original!.metadata?.name} is replaced`)),
      scaled.join('\n'),
    ).to.equal(true);
    const [evicted] = await events(LATE, 'solo', 'Repaired');
    expect(evicted?.message).to.include(`evicted pod ${LATE}/${original!.metadata?.name}`);
  });

  it('retries an eviction a PodDisruptionBudget refuses after a doubling backoff (no storm), says EvictionBlocked once, and evicts once the budget allows', async () => {
    const policy = controlPlane().kubeConfig.makeApiClient(PolicyV1Api);
    await apps.createNamespacedDeployment({ namespace: LATE, body: deployment(LATE, 'guarded', { replicas: 2, container: REQUESTS }) });
    const originals = await runningPods(core, LATE, 'app=guarded', 2);
    await policy.createNamespacedPodDisruptionBudget({
      namespace: LATE,
      body: { metadata: { name: 'guarded' }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: 'guarded' } } } },
    });
    await eventually('the PDB observed', async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'guarded', namespace: LATE });
      return pdb.status?.observedGeneration === pdb.metadata?.generation && pdb.status?.expectedPods === 2 ? true : undefined;
    });
    const refusedBefore = await evictionRequests(controlPlane().kubeConfig, 429);
    await optIn(LATE, 'guarded');
    await witnessInjection();

    // Each refusal as the API server counts it, stamped when this poll (every 100 ms) first saw it.
    const refusals: number[] = [];
    await eventually(
      'three refused evictions',
      async () => {
        const count = (await evictionRequests(controlPlane().kubeConfig, 429)) - refusedBefore;
        while (refusals.length < count) refusals.push(Date.now());
        return count >= 3 ? true : undefined;
      },
      60_000,
    );
    // The backoff doubles from 5 s: attempts at 0, 5 and 15 s. A storm would show as two attempts
    // seen at once; a poll can see an attempt late by at most its own duration.
    const POLL_SLACK_MS = 1_000;
    expect(refusals[1]! - refusals[0]!, refusals.join(', ')).to.be.at.least(5_000 - POLL_SLACK_MS);
    expect(refusals[2]! - refusals[1]!, refusals.join(', ')).to.be.at.least(10_000 - POLL_SLACK_MS);

    await policy.patchNamespacedPodDisruptionBudget({ name: 'guarded', namespace: LATE, body: { spec: { maxUnavailable: 1 } } }, MERGE_PATCH);
    const original = new Set(originals.map(uid));
    await eventually(
      'both pods replaced once the budget allows',
      async () => {
        const current = await live(LATE, 'guarded');
        return current.length === 2 && current.every((pod) => injectedByWebhook(pod) && ready(pod) && !original.has(uid(pod))) ? true : undefined;
      },
      90_000,
    );
    const blocked = await events(LATE, 'guarded', 'EvictionBlocked');
    expect(blocked, 'one Event for the episode, not one per retry').to.have.length(1);
    expect(blocked[0]?.count).to.equal(1);
    expect(blocked[0]?.type).to.equal('Warning');
    expect(blocked[0]?.message).to.match(
      /^cannot evict pod late\/guarded-\S+ now: Cannot evict pod as it would violate the pod's disruption budget\..*; ebb tries again later, backing off$/,
    );
  });

  it('keeps the eviction rate: pods out of range in resize mode evict are evicted at least 60 s / ratePerMinute apart, one pod of a workload at a time', async () => {
    const fleet = ['fleet-a', 'fleet-b'];
    // Every deletion the watch sees: when the API server stamped it, and whether another pod of the
    // same Deployment was still going then.
    const deletions = new Map<string, { at: number; app: string }>();
    const overlaps: string[] = [];
    const present = new Map<string, V1Pod>();
    const abort = await new Watch(controlPlane().kubeConfig).watch(
      `/api/v1/namespaces/${SHOP}/pods`,
      { labelSelector: 'tier=fleet' },
      (type, pod: V1Pod) => {
        if (type === 'DELETED') return present.delete(uid(pod));
        present.set(uid(pod), pod);
        const stamp = pod.metadata?.deletionTimestamp;
        if (!stamp || deletions.has(uid(pod))) return;
        const app = pod.metadata?.labels?.app ?? '';
        deletions.set(uid(pod), { at: new Date(stamp).getTime(), app });
        const going = [...present.values()].filter(
          (other) => uid(other) !== uid(pod) && other.metadata?.labels?.app === app && other.metadata?.deletionTimestamp,
        );
        if (going.length > 0) overlaps.push(`${pod.metadata?.name} while ${going.map((other) => other.metadata?.name).join(', ')}`);
      },
      () => undefined,
    );
    try {
      for (const name of fleet)
        await apps.createNamespacedDeployment({
          namespace: SHOP,
          body: deployment(SHOP, name, { replicas: 3, annotations: { 'ebb.dev/resize': 'evict' }, templateLabels: { tier: 'fleet' }, container: REQUESTS }),
        });
      const originals = new Set((await Promise.all(fleet.map((name) => runningPods(core, SHOP, `app=${name}`, 3)))).flat().map(uid));
      await eventually(
        'every original pod evicted and replaced by a Ready one',
        async () => {
          const current = (await Promise.all(fleet.map((name) => live(SHOP, name)))).flat();
          const done =
            [...originals].every((id) => deletions.has(id)) && current.length === 6 && current.every((pod) => ready(pod) && !originals.has(uid(pod)));
          return done ? true : undefined;
        },
        100_000,
      );
    } finally {
      abort.abort();
    }
    // deletionTimestamp is the eviction's time plus the pods' grace period (the same for all), in whole seconds.
    const times = [...deletions.values()].map((deletion) => deletion.at).sort((a, b) => a - b);
    const gaps = times.slice(1).map((at, index) => at - times[index]!);
    expect(times.length).to.be.at.least(6);
    expect(Math.min(...gaps), `gaps ${gaps.join(', ')} ms`).to.be.at.least(SPACING_MS);
    for (const at of times) expect(times.filter((other) => other > at - 60_000 && other <= at).length).to.be.at.most(RATE);
    expect(overlaps, 'two pods of a workload going at once').to.deep.equal([]);
    const evicted = (await Promise.all(fleet.map((name) => events(SHOP, name, 'Evicted')))).flat();
    expect(evicted.length).to.be.at.least(6);
  });

  it('in dry run writes WouldEvict and changes nothing: no eviction, no surge replica', async () => {
    await setPolicy(true);
    try {
      const evictedBefore = await controllerMetric('ebb_evictions_total{outcome="evicted"}');
      await apps.createNamespacedDeployment({ namespace: LATE, body: deployment(LATE, 'trial', { container: REQUESTS }) });
      const [original] = await runningPods(core, LATE, 'app=trial', 1);
      const watch = await watchDeployment(LATE, 'trial');
      try {
        await optIn(LATE, 'trial');
        await witnessInjection();
        const [would] = await eventually('a WouldEvict Event', async () => {
          const found = await events(LATE, 'trial', 'WouldEvict');
          return found.length > 0 ? found : undefined;
        });
        expect(would?.message).to.equal(
          `dry run (eviction.dryRun): would evict pod ${LATE}/${original!.metadata?.name} after adding a surge replica (was created without ebb's sidecar (while the webhook was down, which fails open, or before the workload was opted in))`,
        );
        // Three scaler ticks and a rate slot later, nothing has changed.
        const ticks = async () => controllerMetric('ebb_controller_tick_duration_seconds_count');
        const tickedAt = await ticks();
        const reportedAt = Date.now();
        await eventually('three more ticks and a rate slot', async () =>
          (await ticks()) >= tickedAt + 3 && Date.now() - reportedAt > SPACING_MS ? true : undefined,
        );
        const current = await pods(LATE, 'trial');
        expect(current.map(uid)).to.deep.equal([uid(original!)]);
        expect(current[0]?.metadata?.deletionTimestamp).to.equal(undefined);
        expect(Math.max(...watch.seen.map((state) => state.replicas))).to.equal(1);
        expect(await events(LATE, 'trial', 'WouldEvict')).to.have.length(1);
        expect(await controllerMetric('ebb_evictions_total{outcome="evicted"}')).to.equal(evictedBefore);
        expect(await controllerMetric('ebb_evictions_total{outcome="dry-run"}')).to.equal(1);
      } finally {
        watch.stop();
      }
    } finally {
      await apps.deleteNamespacedDeployment({ name: 'trial', namespace: LATE });
      await setPolicy(false);
    }
  });
});
