// The one-command install on the real control plane, certificates included: from an empty cluster,
// the manifests' objects (`kubectl kustomize manifests`, applied server-side) and ebb's programs
// as those objects run them, each under its own account, the controller self-managed as the
// manifests set it. Nothing is made by hand: the controller creates the webhook's CA and serving
// certificate, writes the caBundle, and a pod is admitted with the sidecar. Then, with lifetimes
// of seconds (EBB_WEBHOOK_SERVING_VALIDITY / EBB_WEBHOOK_CA_VALIDITY), the serving certificate and
// the CA are renewed while pods are created, and no admission fails.
//
// What the test plays, because KWOK runs no containers: the programs are local processes (not the
// Deployments' pods), the kubelet's Secret volume for the webhook (secret-volume.ts: the Secret
// copied into its files as the kubelet's atomic writer does, 2 s after it changed where the
// kubelet takes up to a couple of minutes), and the Service: the webhook configuration is the manifests'
// with its Service reference replaced by the webhook's loopback URL (the serving certificate is
// also valid for 127.0.0.1). The API server, its admission calls and their TLS are real.

import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
} from '@kubernetes/client-node';
import { INJECTION_LABEL } from '../../../src/core/annotations.ts';
import { injectedByWebhook } from '../../fixtures/pods.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';
import { apiServerMetric } from '../../fixtures/metrics.ts';
import { freePort, killAll, startProgram, type Started } from '../../fixtures/processes.ts';
import { dryRunCreate, replicaSetPod } from '../../fixtures/webhook.ts';
import { accountKubeconfig } from './accounts.ts';
import { kubectl, NAMESPACE, render, type KubeObject } from './kustomize.ts';
import { playSecretVolume, type SecretVolume } from './secret-volume.ts';

const SHOP = 'shop';
const WEBHOOK = 'name="pods.webhook.ebb.dev"';
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** Lifetimes of seconds: a serving certificate renewed every ~20 s, a CA every ~60 s (overlap 6 s). */
const SERVING_VALIDITY = '30s';
const CA_VALIDITY = '90s';

/** The controller's log lines saying what it renewed. */
function renewals(output: readonly string[]): { ca: boolean; serving: boolean; trusted: number; msg: string }[] {
  return output.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; ca?: boolean; serving?: boolean; trusted?: number };
      return entry.msg?.startsWith('webhook certificates renewed') ? [{ ca: entry.ca!, serving: entry.serving!, trusted: entry.trusted!, msg: entry.msg }] : [];
    } catch {
      return [];
    }
  });
}

describe("one-command install: the controller makes and renews the webhook's certificates", function () {
  this.timeout(180_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  let work: string;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let webhook: ChildProcess;
  let webhookPort: number;
  const webhookOutput: string[] = [];
  let volume: SecretVolume;
  let controller: Started<{ port: number }>;
  const clusterKubectl = (args: string[]) => kubectl(args, controlPlane().kubeconfigPath);

  const kubeconfigOf = (account: string) => accountKubeconfig(controlPlane().kubeConfig, NAMESPACE, account, work);

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'ebb-one-command-'));
    core = controlPlane().kubeConfig.makeApiClient(CoreV1Api);
    apps = controlPlane().kubeConfig.makeApiClient(AppsV1Api);
    const objects = await render();
    webhookPort = await freePort();
    // Everything but the programs' workloads (local processes here), the webhook configuration
    // calling the local webhook where the Service would take the API server.
    const applied = objects
      .filter((object) => object.kind !== 'Deployment' && object.kind !== 'DaemonSet')
      .map((object) => {
        if (object.kind !== 'MutatingWebhookConfiguration') return object;
        const configuration = structuredClone(object) as KubeObject & V1MutatingWebhookConfiguration;
        configuration.webhooks![0]!.clientConfig = { url: `https://127.0.0.1:${webhookPort}/mutate` };
        return configuration;
      });
    writeFileSync(join(work, 'install.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: applied }));
    await clusterKubectl(['apply', '--server-side', '-f', join(work, 'install.json')]);
    const controllerEnv = (objects.find((object) => object.kind === 'Deployment' && object.metadata.name === 'ebb-controller') as KubeObject & V1Deployment)
      .spec!.template.spec!.containers[0]!.env!.filter((variable) => variable.value !== undefined)
      .map((variable) => [variable.name, variable.value!] as const);
    expect(Object.fromEntries(controllerEnv)).to.include({ EBB_WEBHOOK_CERTIFICATES: 'self-managed' });

    // The webhook first, as its pods would start before the Secret exists.
    const tlsDir = join(work, 'tls');
    webhook = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'webhook/main.ts',
        '--host',
        '127.0.0.1',
        '--port',
        String(webhookPort),
        '--tls-cert',
        join(tlsDir, 'tls.crt'),
        '--tls-key',
        join(tlsDir, 'tls.key'),
      ],
      {
        env: { ...process.env, KUBECONFIG: await kubeconfigOf('ebb-webhook'), POD_NAMESPACE: NAMESPACE },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    for (const output of [webhook.stdout!, webhook.stderr!]) output.on('data', (chunk: Buffer) => webhookOutput.push(chunk.toString()));
    // A renewal reaches the webhook's files 2 s after the Secret changes (and the webhook reads
    // them within its 2 s poll): the overlap, 6 s here, must cover that, or dropping the old CA
    // would fail the admissions of a webhook still serving its certificate.
    volume = playSecretVolume(controlPlane().kubeConfig, NAMESPACE, 'ebb-webhook-tls', tlsDir, { delayMs: 2_000 });
    writeFileSync(join(work, 'token'), 'unused: no agents here');
    controller = await startProgram<{ port: number }>(
      'src/controller/main.ts',
      {
        ...Object.fromEntries(controllerEnv),
        KUBECONFIG: await kubeconfigOf('ebb-controller'),
        POD_NAME: 'ebb-controller-0',
        POD_NAMESPACE: NAMESPACE,
        EBB_CONTROLLER_HOST: '127.0.0.1',
        EBB_CONTROLLER_PORT: '0',
        EBB_TOKEN_FILE: join(work, 'token'),
        // Short lives, so that renewals happen within the test (the second one below).
        EBB_WEBHOOK_SERVING_VALIDITY: SERVING_VALIDITY,
        EBB_WEBHOOK_CA_VALIDITY: CA_VALIDITY,
      },
      'controller listening',
      30_000,
    );

    await core.createNamespace({ body: { metadata: { name: SHOP, labels: { [INJECTION_LABEL]: 'enabled' } } } });
    await eventually('the default service account in shop', async () =>
      (await core.listNamespacedServiceAccount({ namespace: SHOP })).items.some((account) => account.metadata?.name === 'default') ? true : undefined,
    );
  });

  after(async () => {
    webhook?.kill('SIGKILL');
    await volume?.stop();
    await killAll();
    rmSync(work, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    console.log(`--- controller\n${controller.output.slice(-30).join('\n')}`);
    console.log(`--- webhook\n${webhookOutput.join('').split('\n').slice(-20).join('\n')}`);
  });

  const deployment = (name: string, replicas: number): V1Deployment => ({
    metadata: { name, annotations: { 'ebb.dev/paused': 'true' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
    },
  });

  it('from nothing: the Secret and the caBundle made by the controller, and a pod admitted with the sidecar', async () => {
    const secret = await eventually(`Secret ebb-webhook-tls (${controller.output.join('\n')})`, () =>
      core.readNamespacedSecret({ name: 'ebb-webhook-tls', namespace: NAMESPACE }).catch(() => undefined),
    );
    expect(secret.type).to.equal('kubernetes.io/tls');
    expect(Object.keys(secret.data ?? {}).sort()).to.deep.equal(['ca.crt', 'tls.crt', 'tls.key']);
    const caSecret = await core.readNamespacedSecret({ name: 'ebb-webhook-ca', namespace: NAMESPACE });
    const ca = new X509Certificate(Buffer.from(caSecret.data!['tls.crt']!, 'base64'));
    expect(new X509Certificate(Buffer.from(secret.data!['tls.crt']!, 'base64')).checkIssued(ca)).to.equal(true);
    const admission = controlPlane().kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    await eventually("the caBundle: the Secret's ca.crt", async () =>
      String((await admission.readMutatingWebhookConfiguration({ name: 'ebb' })).webhooks?.[0]?.clientConfig.caBundle) === secret.data!['ca.crt']
        ? true
        : undefined,
    );
    // The webhook ready once its files appeared, trusted by the Secret's CA.
    const caPem = Buffer.from(secret.data!['ca.crt']!, 'base64').toString();
    await eventually(
      `the webhook ready (${webhookOutput.join('')})`,
      () =>
        new Promise<true | undefined>((done) => {
          const req = request({ host: '127.0.0.1', port: webhookPort, path: '/readyz', ca: caPem, agent: false }, (res) => {
            res.resume();
            done(res.statusCode === 200 ? true : undefined);
          });
          req.on('error', () => done(undefined));
          req.end();
        }),
    );

    await apps.createNamespacedDeployment({ namespace: SHOP, body: deployment('web', 1) });
    const [pod] = await eventually('the pod of web', async () => {
      const pods = (await core.listNamespacedPod({ namespace: SHOP, labelSelector: 'app=web' })).items;
      return pods.length === 1 ? pods : undefined;
    });
    expect(injectedByWebhook(pod!), JSON.stringify(pod!.metadata?.annotations)).to.equal(true);
  });

  // Fails if a renewal is not made in time (none within the bound), if the webhook does not take
  // a renewed pair, or if the API server fails a handshake with it (fail-open count > 0: the new
  // CA not trusted yet when its certificate was served, or the old one dropped while still served).
  it('renews the serving certificate and the CA while pods are created: every pod admitted with the sidecar, none failed open', async () => {
    const kubeConfig = controlPlane().kubeConfig;
    const failedOpenBefore = await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_fail_open_count', WEBHOOK);
    const rejectedBefore = await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_rejection_count', WEBHOOK);
    const renewedBefore = renewals(controller.output).length;
    await apps.createNamespacedDeployment({ namespace: SHOP, body: deployment('burst', 0) });
    const [replicaSet] = await eventually('the ReplicaSet of burst', async () => {
      const sets = (await apps.listNamespacedReplicaSet({ namespace: SHOP, labelSelector: 'app=burst' })).items;
      return sets.length === 1 ? sets : undefined;
    });
    const burstPod = replicaSetPod(SHOP, 'burst', { hash: replicaSet!.metadata!.labels!['pod-template-hash'], replicaSetUid: replicaSet!.metadata!.uid });

    // Pods all along: one more replica of burst every second (real pods, at most 60), and 8
    // dry-run pods at once every 300 ms (admitted, not stored), until the CA has been renewed,
    // the serving certificate moved to it and the old CA dropped, and one more serving renewal.
    let replicas = 0;
    const dryRun: V1Pod[] = [];
    let streaming = true;
    const stream = (async () => {
      let last = 0;
      while (streaming) {
        if (Date.now() - last >= 1_000 && replicas < 60) {
          last = Date.now();
          replicas += 1;
          await apps.patchNamespacedDeploymentScale({ name: 'burst', namespace: SHOP, body: { spec: { replicas } } }, MERGE_PATCH);
        }
        dryRun.push(...(await Promise.all(Array.from({ length: 8 }, () => dryRunCreate(kubeConfig, burstPod)))));
        await new Promise((done) => setTimeout(done, 300));
      }
    })();
    try {
      await eventually(
        'a CA renewal, the move to it, the old CA dropped, and a serving renewal after',
        () => {
          const since = renewals(controller.output).slice(renewedBefore);
          const caAt = since.findIndex((renewal) => renewal.ca);
          const movedAt = since.findIndex((renewal, index) => index > caAt && renewal.msg.includes('moves to the new CA'));
          const droppedAt = since.findIndex((renewal, index) => index > movedAt && renewal.msg.includes('the previous CA is no longer needed'));
          return caAt >= 0 && movedAt > caAt && droppedAt > movedAt && since.slice(droppedAt + 1).some((renewal) => renewal.serving) ? since : undefined;
        },
        150_000,
        500,
      );
    } finally {
      streaming = false;
      await stream;
    }
    const created = await eventually(
      `${replicas} pods of burst`,
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: SHOP, labelSelector: 'app=burst' })).items;
        return pods.length === replicas ? pods : undefined;
      },
      60_000,
    );
    const failedOpen = (await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_fail_open_count', WEBHOOK)) - failedOpenBefore;
    const rejected = (await apiServerMetric(kubeConfig, 'apiserver_admission_webhook_rejection_count', WEBHOOK)) - rejectedBefore;
    const reloads = webhookOutput
      .join('')
      .split('\n')
      .filter((line) => line.includes('"serving certificate reloaded"')).length;
    expect({ failedOpen, rejected }).to.deep.equal({ failedOpen: 0, rejected: 0 });
    expect(created.filter((pod) => !injectedByWebhook(pod)).map((pod) => pod.metadata?.name)).to.deep.equal([]);
    expect(dryRun.filter((pod) => !injectedByWebhook(pod))).to.have.length(0);
    expect(dryRun.length).to.be.greaterThan(100);
    // The webhook took every renewed pair: at least the first, the move and the one after.
    expect(reloads).to.be.at.least(3);
  });

  it('replaces a Secret whose data is corrupt, with a warning, and goes on', async () => {
    const warnedBefore = controller.output.filter((line) => line.includes('it is replaced')).length;
    await core.patchNamespacedSecret(
      { name: 'ebb-webhook-tls', namespace: NAMESPACE, body: { data: { 'tls.crt': Buffer.from('garbage').toString('base64') } } },
      MERGE_PATCH,
    );
    const repaired = await eventually(
      'a readable serving certificate again',
      async () => {
        const secret = await core.readNamespacedSecret({ name: 'ebb-webhook-tls', namespace: NAMESPACE });
        const pem = Buffer.from(secret.data!['tls.crt']!, 'base64').toString();
        return pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem) : undefined;
      },
      70_000,
    );
    expect(repaired.subjectAltName).to.include('DNS:ebb-webhook.ebb-system.svc');
    const warnings = controller.output
      .filter((line) => line.includes('it is replaced'))
      .slice(warnedBefore)
      .map((line) => JSON.parse(line) as { level: string; msg: string });
    expect(warnings.map((warning) => warning.level)).to.include('warn');
    expect(warnings[0]!.msg).to.match(/^Secret ebb-webhook-tls: tls.crt and tls.key are not a PEM certificate and key/);
    expect(controller.child.exitCode).to.equal(null);
  });
});
