// `kubectl ebb` as users run it: the bundled plugin (npm run build:kubectl-ebb, what the package
// installs) as a process, with a kubeconfig, against the real control plane — first with no ebb in
// it, then with ebb's real programs running (the sandbox's webhook, agents and controller), then
// with its parts taken away one by one. Asserts on the printed output and the exit codes.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { AdmissionregistrationV1Api, AppsV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { WEBHOOK_CONFIGURATION_NAME, startEbb, type RunningEbb } from '../../../src/localcluster/ebb.ts';
import { DEFAULT_EBB_NAMESPACE } from '../../../src/core/opt-in.ts';
import { createNamespace, useCluster } from '../../fixtures/cluster-support.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { deployment } from '../../fixtures/deployments.ts';

const REPO = resolve(import.meta.dirname, '../../..');
const PLUGIN = join(REPO, 'dist', 'kubectl-ebb.mjs');
const NAMESPACE = 'shop';
const runFile = promisify(execFile);
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('kubectl ebb', function () {
  this.timeout(180_000);
  const { controlPlane, core, apps } = useCluster({ nodes: 2 });
  let ebb: RunningEbb | undefined;

  before(function () {
    this.timeout(60_000);
    execFileSync('npm', ['run', '-s', 'build:kubectl-ebb'], { cwd: REPO, stdio: 'inherit' });
  });

  after(async function () {
    this.timeout(60_000);
    await ebb?.stop();
  });

  async function kubectlEbb(args: string[], kubeconfig = controlPlane().kubeconfigPath): Promise<Run> {
    try {
      const { stdout, stderr } = await runFile(PLUGIN, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      if (typeof failed.code !== 'number') throw error;
      return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  const checkLine = (output: string, start: string) => output.split('\n').find((line) => line.startsWith(start));

  it("is the package's executable: package.json bin names the bundle, which runs with a shebang", async () => {
    const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(resolve(REPO, manifest.bin['kubectl-ebb']!)).to.equal(PLUGIN);
    expect(readFileSync(PLUGIN, 'utf8').startsWith('#!/usr/bin/env node\n')).to.equal(true);
    const help = await kubectlEbb(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('kubectl ebb status');
    const wrong = await kubectlEbb(['status', '-o', 'wide']);
    expect(wrong).to.deep.include({ code: 2 });
    expect(wrong.stderr).to.contain('-o wide is not accepted: expected table | json | yaml');
  });

  describe('on a cluster without ebb', () => {
    it('status and explain say ebb is not installed and how to install it', async () => {
      for (const args of [['status'], ['explain', 'deploy/web', '-n', 'default']]) {
        const run = await kubectlEbb(args);
        expect(run.code, args.join(' ')).to.equal(1);
        expect(run.stderr).to.contain('ebb is not installed in this cluster: there is no namespace ebb-system');
        expect(run.stderr).to.contain('kubectl apply -k manifests');
      }
    });

    it('check fails on the namespace, the webhook, the leader and the agents, each with a fix, and exits 1', async () => {
      const run = await kubectlEbb(['check']);
      expect(run.code).to.equal(1);
      expect(run.stdout).to.contain('✘ ebb namespace ebb-system not found: ebb is not installed here\n    fix: install it with kubectl apply -k manifests');
      expect(run.stdout).to.contain('✘ webhook registered: no MutatingWebhookConfiguration ebb with webhook pods.webhook.ebb.dev');
      expect(run.stdout).to.contain('✘ controller leader: no Lease ebb-system/ebb-controller');
      expect(run.stdout).to.contain(
        '✘ an agent Ready on every node: no pod of DaemonSet ebb-system/ebb-agent at all\n    fix: apply the manifests: kubectl apply -k manifests',
      );
      expect(run.stdout).to.match(/Status check results are ✘: \d+ problems/);
    });
  });

  describe('with ebb running', () => {
    before(async function () {
      this.timeout(120_000);
      ebb = await startEbb(controlPlane());
      // The agents' DaemonSet, as the manifests install it: KWOK runs a Ready pod of it on each node.
      const daemonSet = parseYaml(readFileSync(join(REPO, 'manifests/agent/daemonset.yaml'), 'utf8')) as Parameters<
        AppsV1Api['createNamespacedDaemonSet']
      >[0]['body'];
      await apps.createNamespacedDaemonSet({ namespace: DEFAULT_EBB_NAMESPACE, body: daemonSet });
      await createNamespace(core, NAMESPACE);
      await core.patchNamespace(
        { name: NAMESPACE, body: { metadata: { labels: { 'ebb.dev/injection': 'enabled' }, annotations: { 'ebb.dev/idle-after': '30m' } } } },
        MERGE_PATCH,
      );
      await apps.createNamespacedDeployment({ namespace: NAMESPACE, body: app('web', { 'ebb.dev/min-replicas': '2', 'ebb.dev/max-replicas': 'lots' }) });
      await core.createNamespacedService({
        namespace: NAMESPACE,
        body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] } },
      });
      // The controller raises it to min-replicas (a Scaled Event) and KWOK makes both pods Ready.
      await eventually(
        'shop/web at 2 ready replicas, with its status written',
        async () => {
          const current = await apps.readNamespacedDeployment({ name: 'web', namespace: NAMESPACE });
          return current.status?.readyReplicas === 2 && current.metadata?.annotations?.['ebb.dev/status'] ? true : undefined;
        },
        60_000,
      );
      await eventually(
        'an agent pod Ready on every node',
        async () => {
          const pods = await core.listNamespacedPod({ namespace: DEFAULT_EBB_NAMESPACE, labelSelector: 'app.kubernetes.io/name=ebb-agent' });
          const ready = pods.items.filter((pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
          return ready.length === 2 ? true : undefined;
        },
        60_000,
      );
    });

    it('status lists the opted-in workload with its resize mode, replicas, reason and requests against the recommendation', async () => {
      const run = await kubectlEbb(['status']);
      expect(run.code, run.stderr).to.equal(0);
      const [header, row] = run.stdout.split('\n');
      expect(header).to.match(/^NAMESPACE\s+NAME\s+RESIZE\s+REPLICAS\(D\/A\/R\)\s+IN-FLIGHT\s+LAST-REQUEST\s+REASON\s+WRITTEN\s+REQUESTS → RECOMMENDED/);
      expect(row).to.match(/^shop\s+web\s+initial\s+2\/2\/2\s+\S+\s+\S+\s+\S+\s+\d+s\s+app 250m\/256Mi → \?$/);
      expect(run.stdout).to.contain('Saved by right-sizing, across the running pods: CPU 0, memory 0');
    });

    it('status -o json and -o yaml give the same data', async () => {
      const json = JSON.parse((await kubectlEbb(['status', '-o', 'json'])).stdout) as {
        workloads: { namespace: string; name: string; replicas: unknown; containers: unknown }[];
        saved: unknown;
      };
      expect(json.workloads.map((w) => `${w.namespace}/${w.name}`)).to.deep.equal(['shop/web']);
      expect(json.workloads[0]).to.deep.include({
        replicas: { desired: 2, actual: 2, ready: 2 },
        containers: [{ name: 'app', requests: { cpu: 250, memory: 256 * 2 ** 20 } }],
      });
      expect(json.saved).to.deep.equal({ cpu: 0, memory: 0 });
      const yaml = parseYaml((await kubectlEbb(['status', '-n', NAMESPACE, '-o', 'yaml'])).stdout) as { workloads: { name: string }[] };
      expect(yaml.workloads.map((w) => w.name)).to.deep.equal(['web']);
    });

    it("explain names every setting's source, the invalid value with what is accepted, and the Scaled decision", async () => {
      const run = await kubectlEbb(['explain', 'deploy/web', '-n', NAMESPACE]);
      expect(run.code, run.stderr).to.equal(0);
      const out = run.stdout;
      expect(out).to.contain('Deployment shop/web: opted in (namespace shop is labelled ebb.dev/injection=enabled)');
      expect(out).to.match(/^min-replicas\s+2\s+Deployment web$/m);
      expect(out).to.match(/^idle-after\s+30m\s+Namespace shop$/m);
      expect(out).to.match(/^resize\s+initial\s+built-in default$/m);
      expect(out).to.match(/^max-replicas\s+10\s+built-in default$/m);
      expect(out).to.contain('✘ ebb.dev/max-replicas: "lots" is not accepted: expected a whole number ≥ 1');
      expect(out).to.match(/Normal\s+Scaled\s+Deployment web\s+1 → 2: /);
      const json = JSON.parse((await kubectlEbb(['explain', 'deploy/web', '-n', NAMESPACE, '-o', 'json'])).stdout) as {
        settings: { setting: string; source: string }[];
      };
      expect(json.settings.find((line) => line.setting === 'min-replicas')).to.deep.equal({ setting: 'min-replicas', value: '2', source: 'Deployment web' });
    });

    it('explain says which Deployment is missing and how to list them', async () => {
      const run = await kubectlEbb(['explain', 'deploy/nope', '-n', NAMESPACE]);
      expect(run.code).to.equal(1);
      expect(run.stderr).to.equal(
        'error: Deployment nope not found in namespace shop: kubectl -n shop get deployments lists them (pass -n for another namespace)\n',
      );
    });

    it('check passes every line and exits 0', async () => {
      const run = await kubectlEbb(['check']);
      expect(
        run.stdout.split('\n').filter((line) => line.startsWith('✘')),
        run.stdout,
      ).to.deep.equal([]);
      expect(run.code).to.equal(0);
      for (const line of [
        '✔ ebb namespace ebb-system',
        `✔ webhook registered: MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION_NAME} calls https://127.0.0.1:${ebb!.webhookPort}/mutate`,
        `✔ caBundle matches the certificate served at https://127.0.0.1:${ebb!.webhookPort}/mutate`,
        "✔ webhook answering: a dry-run pod of shop/web was admitted with ebb's changes",
        '✔ controller leader: ebb-controller-0 (Lease ebb-system/ebb-controller)',
        '✔ an agent Ready on every node (2)',
        '✔ no Service bypasses the interceptor (1 opted-in workload)',
        "✔ every pod of the opted-in workloads has ebb's interceptor",
      ])
        expect(run.stdout).to.contain(`${line}\n`);
      expect(checkLine(run.stdout, '✔ serving certificate valid until')).to.not.equal(undefined);
    });

    it('check finds a Service that targets the app port by number, with the fix', async () => {
      await core.createNamespacedService({
        namespace: NAMESPACE,
        body: { metadata: { name: 'web-direct' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } },
      });
      try {
        const run = await kubectlEbb(['check']);
        expect(run.code).to.equal(1);
        expect(run.stdout).to.contain(
          "✘ traffic of shop/web goes around the interceptor: Service shop/web-direct targets port 8080 by number, which bypasses ebb's interceptor\n    fix: set targetPort: http",
        );
      } finally {
        await core.deleteNamespacedService({ name: 'web-direct', namespace: NAMESPACE });
      }
    });

    it('a user without access gets "no access" naming what was refused', async () => {
      const issued = await core.createNamespacedServiceAccountToken({
        name: 'default',
        namespace: NAMESPACE,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      });
      const kubeconfig = tokenKubeconfig(controlPlane().kubeConfig, issued.status!.token, join(controlPlane().workDir, 'nobody.kubeconfig'));
      const run = await kubectlEbb(['status'], kubeconfig);
      expect(run.code).to.equal(1);
      expect(run.stderr).to.match(
        /^error: no access: reading Namespace ebb-system was refused \(namespaces "ebb-system" is forbidden: User "system:serviceaccount:shop:default" cannot get resource "namespaces"/,
      );
      const check = await kubectlEbb(['check'], kubeconfig);
      expect(check.code).to.equal(1);
      expect(check.stdout).to.contain('✘ cannot check Namespace ebb-system: no access');
      expect(check.stdout).to.contain('fix: run kubectl ebb check with credentials that may read Namespace ebb-system');
    });

    it('check sees pods that run without the interceptor, and no leader once the controller stops', async () => {
      await ebb!.processes.find((process) => process.name === 'ebb-controller')!.stop();
      // Created while opted out, then opted in on the Deployment (no rollout): its pod has no sidecar,
      // and no controller replaces it.
      await apps.createNamespacedDeployment({ namespace: NAMESPACE, body: app('legacy', { 'ebb.dev/enabled': 'false' }) });
      await eventually(
        'shop/legacy ready',
        async () => ((await apps.readNamespacedDeployment({ name: 'legacy', namespace: NAMESPACE })).status?.readyReplicas === 1 ? true : undefined),
        60_000,
      );
      await apps.patchNamespacedDeployment(
        { name: 'legacy', namespace: NAMESPACE, body: { metadata: { annotations: { 'ebb.dev/enabled': 'true' } } } },
        MERGE_PATCH,
      );
      const run = await kubectlEbb(['check']);
      expect(run.code).to.equal(1);
      expect(run.stdout).to.contain('✘ controller leader: Lease ebb-system/ebb-controller has no holder');
      expect(run.stdout).to.match(
        /✘ shop\/legacy: 1 of 1 pods run without ebb's interceptor \(legacy-[a-z0-9-]+\)\n {4}fix: they were created while the webhook did not answer/,
      );
    });

    it('check says the webhook is unreachable when its process stops, and unregistered when its configuration goes', async () => {
      await ebb!.processes.find((process) => process.name === 'ebb-webhook')!.stop();
      const down = await kubectlEbb(['check']);
      expect(down.code).to.equal(1);
      expect(down.stdout).to.contain(`✘ webhook unreachable at https://127.0.0.1:${ebb!.webhookPort}/mutate: ECONNREFUSED`);
      expect(down.stdout).to.contain('✘ webhook not answering: a dry-run pod of shop/');
      await controlPlane().kubeConfig.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME });
      const gone = await kubectlEbb(['check']);
      expect(gone.stdout).to.contain(
        '✘ webhook registered: no MutatingWebhookConfiguration ebb with webhook pods.webhook.ebb.dev, so pods are created without ebb\n    fix: apply the manifests: kubectl apply -k manifests',
      );
    });

    it('check compares the caBundle of an installed configuration with the serving certificate in its Secret', async () => {
      const admission = controlPlane().kubeConfig.makeApiClient(AdmissionregistrationV1Api);
      const configuration = parseYaml(readFileSync(join(REPO, 'manifests/webhook/mutatingwebhookconfiguration.yaml'), 'utf8')) as Parameters<
        AdmissionregistrationV1Api['createMutatingWebhookConfiguration']
      >[0]['body'];
      const tls = (name: string) => readFileSync(join(controlPlane().workDir, 'webhook-tls', name), 'utf8');
      configuration.webhooks![0]!.clientConfig.caBundle = Buffer.from(tls('ca.crt')).toString('base64');
      await admission.createMutatingWebhookConfiguration({ body: configuration });
      await core.createNamespacedSecret({
        namespace: DEFAULT_EBB_NAMESPACE,
        body: {
          metadata: { name: 'ebb-webhook-tls' },
          type: 'kubernetes.io/tls',
          stringData: { 'ca.crt': tls('ca.crt'), 'tls.crt': tls('tls.crt'), 'tls.key': tls('tls.key') },
        },
      });
      const run = await kubectlEbb(['check']);
      expect(run.stdout).to.contain('✔ webhook registered: MutatingWebhookConfiguration ebb calls service ebb-system/ebb-webhook:443/mutate\n');
      expect(run.stdout).to.contain('✔ caBundle matches the serving certificate (Secret ebb-system/ebb-webhook-tls)\n');
      expect(run.stdout).to.contain('✘ webhook unreachable: Service ebb-system/ebb-webhook has no ready endpoint\n');
      // A caBundle from another CA (the control plane's own): the API server would reject the webhook.
      configuration.webhooks![0]!.clientConfig.caBundle = Buffer.from(readFileSync(join(controlPlane().workDir, 'ca.crt'))).toString('base64');
      await admission.replaceMutatingWebhookConfiguration({
        name: 'ebb',
        body: { ...configuration, metadata: (await admission.readMutatingWebhookConfiguration({ name: 'ebb' })).metadata },
      });
      const mismatched = await kubectlEbb(['check']);
      expect(mismatched.code).to.equal(1);
      expect(mismatched.stdout).to.contain('✘ caBundle does not match the serving certificate in Secret ebb-system/ebb-webhook-tls');
    });
  });
});

/** An app of one pod, with the requests `kubectl ebb status` reports. */
const app = (name: string, annotations: Record<string, string>) =>
  deployment(NAMESPACE, name, { annotations, container: { resources: { requests: { cpu: '250m', memory: '256Mi' } } } });

/** A kubeconfig for the same API server with only a bearer token: someone with no RBAC. */
function tokenKubeconfig(admin: KubeConfig, token: string, file: string): string {
  const cluster = admin.getCurrentCluster()!;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'nobody', token }],
    contexts: [{ name: 'nobody', cluster: cluster.name, user: 'nobody' }],
    currentContext: 'nobody',
  });
  writeFileSync(file, config.exportConfig(), { mode: 0o600 });
  return file;
}
