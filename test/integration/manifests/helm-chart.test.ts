// charts/ebb against manifests/: with its defaults, `helm template` renders the same objects as
// `kubectl kustomize manifests` (with monitoring.enabled, the same as manifests/monitoring/ too;
// with certificates.mode cert-manager, the same as manifests/overlays/cert-manager),
// so the chart and the base never drift: a change to either fails here, naming the object. The
// values do what values.yaml says; `helm install` installs it for real, and every render (with
// cert-manager's and the Prometheus Operator's CRDs, vendored) is accepted by a real API server as a
// strict server-side dry run. helm is built from its Go module by `npm run cluster:build`.
//
// The one difference allowed is the policy's text: the chart writes values.yaml's policy with
// toYaml (keys sorted, no comments), so the ConfigMap's policy.yaml is compared as the YAML it holds.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';
import { parsePolicy } from '../../../src/core/policy.ts';
import { locateAssets } from '../../../src/localcluster/assets.ts';
import { locateTool } from '../../../src/localcluster/tools.ts';
import { crdsEstablished } from '../../fixtures/cluster-support.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const CHART = join(ROOT, 'charts/ebb');
const runFile = promisify(execFile);

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const key = (object: KubeObject) => `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`;

function documents(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

/** Objects by kind, namespace and name; the policy ConfigMap's text as the YAML it holds. */
function byKey(objects: readonly KubeObject[]): Map<string, unknown> {
  const keyed = new Map<string, unknown>();
  for (const object of objects) {
    const policy = object.kind === 'ConfigMap' && object.metadata.name === 'ebb-policy';
    keyed.set(key(object), policy ? { ...object, data: { 'policy.yaml': parse(object.data!['policy.yaml']!) as unknown } } : object);
  }
  return keyed;
}

/** Each object that differs, is missing or is extra, by name; empty when the two agree. */
function differences(chart: readonly KubeObject[], kustomize: readonly KubeObject[]): string[] {
  const [fromChart, fromKustomize] = [byKey(chart), byKey(kustomize)];
  const problems: string[] = [];
  for (const [name, object] of fromKustomize) {
    if (!fromChart.has(name)) problems.push(`${name}: not rendered by the chart`);
    else if (JSON.stringify(sorted(fromChart.get(name))) !== JSON.stringify(sorted(object))) {
      problems.push(`${name} differs:\n  chart:     ${JSON.stringify(sorted(fromChart.get(name)))}\n  kustomize: ${JSON.stringify(sorted(object))}`);
    }
  }
  for (const name of fromChart.keys()) if (!fromKustomize.has(name)) problems.push(`${name}: rendered by the chart only`);
  return problems;
}

/** The value with every object's keys in order: key order means nothing to the API server. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, sorted(v)]),
  );
}

describe('Helm chart (charts/ebb)', function () {
  this.timeout(120_000);
  let helmHome: string;

  before(() => {
    helmHome = mkdtempSync(join(tmpdir(), 'ebb-helm-'));
  });
  after(() => rmSync(helmHome, { recursive: true, force: true }));

  /** `helm` with its cache, config and data in a directory of the test's own, never the user's. */
  async function helm(args: string[]): Promise<string> {
    const env = {
      ...process.env,
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
    };
    return (await runFile(locateTool('helm'), args, { env, maxBuffer: 16 * 2 ** 20 })).stdout;
  }
  const template = async (...sets: string[]) => documents(await helm(['template', 'ebb', CHART, ...sets.flatMap((set) => ['--set', set])]));
  const kustomize = async (dir: string) => (await runFile(locateAssets().kubectl, ['kustomize', join(ROOT, dir)], { maxBuffer: 16 * 2 ** 20 })).stdout;

  it('passes helm lint', async () => {
    expect(await helm(['lint', CHART])).to.match(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders with its defaults exactly the objects of `kubectl kustomize manifests`', async () => {
    const chart = await template();
    const base = documents(await kustomize('manifests'));
    expect(chart.length).to.be.greaterThan(20);
    expect(differences(chart, base)).to.deep.equal([]);
  });

  it('with monitoring.enabled, adds exactly the objects of manifests/monitoring, from byte-for-byte copies', async () => {
    for (const file of ['monitors.yaml', 'alerts.yaml', 'dashboard.json']) {
      expect(readFileSync(join(CHART, 'files/monitoring', file), 'utf8'), `charts/ebb/files/monitoring/${file}`).to.equal(
        readFileSync(join(ROOT, 'manifests/monitoring', file), 'utf8'),
      );
    }
    const chart = await template('monitoring.enabled=true');
    const expected = [...documents(await kustomize('manifests')), ...documents(await kustomize('manifests/monitoring'))];
    expect(differences(chart, expected)).to.deep.equal([]);
  });

  it('takes the image, replicas, resources and policy from its values', async () => {
    const chart = await template(
      'image.repository=registry.example/ebb',
      'image.tag=1.2.3',
      'image.pullPolicy=Always',
      'webhook.replicas=3',
      'controller.replicas=1',
      'agent.resources.limits.memory=300Mi',
      'policy.defaults.max-replicas=20',
    );
    type Workload = KubeObject & {
      spec: { replicas?: number; template: { spec: { containers: { image: string; imagePullPolicy?: string; resources: { limits: { memory: string } } }[] } } };
    };
    const workloads = chart.filter((object): object is Workload => object.kind === 'Deployment' || object.kind === 'DaemonSet');
    expect(workloads).to.have.length(3);
    for (const workload of workloads) {
      expect(workload.spec.template.spec.containers[0], key(workload)).to.deep.include({ image: 'registry.example/ebb:1.2.3', imagePullPolicy: 'Always' });
    }
    const replicas = Object.fromEntries(workloads.map((workload) => [workload.metadata.name, workload.spec.replicas]));
    expect(replicas).to.deep.equal({ 'ebb-webhook': 3, 'ebb-controller': 1, 'ebb-agent': undefined });
    expect(workloads.find((workload) => workload.kind === 'DaemonSet')!.spec.template.spec.containers[0]!.resources.limits.memory).to.equal('300Mi');
    const policy = parsePolicy(chart.find((object) => object.metadata.name === 'ebb-policy')!.data!['policy.yaml']!);
    if (!policy.ok) expect.fail(policy.errors.map((error) => error.message).join('\n'));
    expect(policy.policy.defaults['max-replicas']).to.equal(20);
    // The sidecar follows the programs' image unless the policy names one.
    expect(policy.policy.sidecar.image).to.equal('registry.example/ebb:1.2.3');
  });

  it('with certificates.mode cert-manager, renders exactly manifests/overlays/cert-manager: cert-manager issues the Secret and injects the CA; any other mode is refused', async () => {
    const chart = await template('certificates.mode=cert-manager');
    expect(differences(chart, documents(await kustomize('manifests/overlays/cert-manager')))).to.deep.equal([]);
    const certificate = chart.find((object) => object.kind === 'Certificate' && object.metadata.name === 'ebb-webhook');
    expect(certificate?.spec).to.deep.include({
      secretName: 'ebb-webhook-tls',
      dnsNames: ['ebb-webhook.ebb-system.svc', 'ebb-webhook.ebb-system.svc.cluster.local'],
    });
    expect(certificate?.spec?.issuerRef).to.deep.equal({ kind: 'Issuer', name: 'ebb-ca' });
    // cert-manager's CA injector writes the caBundle; the controller leaves it and the Secrets alone.
    const configuration = chart.find((object) => object.kind === 'MutatingWebhookConfiguration')!;
    expect(configuration.metadata.annotations).to.deep.equal({ 'cert-manager.io/inject-ca-from': 'ebb-system/ebb-webhook' });
    type Controller = KubeObject & { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } };
    const controller = chart.find((object): object is Controller => object.kind === 'Deployment' && object.metadata.name === 'ebb-controller')!;
    expect(controller.spec.template.spec.containers[0]!.env.find((variable) => variable.name === 'EBB_WEBHOOK_CERTIFICATES')?.value).to.equal('external');
    const role = chart.find((object) => object.kind === 'Role' && object.metadata.name === 'ebb-controller') as KubeObject & {
      rules: { resources: string[] }[];
    };
    expect(role.rules.flatMap((rule) => rule.resources)).to.not.include('secrets');
    const base = documents(await kustomize('manifests')).find((object) => object.kind === 'Role' && object.metadata.name === 'ebb-controller') as KubeObject & {
      rules: { resources: string[] }[];
    };
    expect(base.rules.flatMap((rule) => rule.resources)).to.include('secrets');

    const ownIssuer = await template(
      'certificates.mode=cert-manager',
      'certificates.certManager.issuerRef.kind=ClusterIssuer',
      'certificates.certManager.issuerRef.name=corp-ca',
    );
    expect(ownIssuer.filter((object) => object.apiVersion === 'cert-manager.io/v1').map(key)).to.deep.equal(['Certificate ebb-system/ebb-webhook']);
    expect(ownIssuer.find((object) => object.kind === 'Certificate')!.spec!.issuerRef).to.deep.equal({ kind: 'ClusterIssuer', name: 'corp-ca' });

    const refused = await template('certificates.mode=manual').then(
      () => undefined,
      (error: { stderr?: string }) => error.stderr,
    );
    expect(refused).to.include('certificates.mode: "manual" is not accepted: expected self-managed or cert-manager');
  });

  describe('against a real API server', () => {
    const controlPlane = useControlPlane({ nodes: 1 });
    const kubectl = (args: string[]) =>
      runFile(locateAssets().kubectl, args, { env: { ...process.env, KUBECONFIG: controlPlane().kubeconfigPath }, maxBuffer: 16 * 2 ** 20 });

    // First, and gone when it ends: the chart's namespace is its own, so nothing may exist before.
    it("installs with the README's `helm install ebb charts/ebb` (the namespace with its labels, every program) and uninstalls", async () => {
      const asUser = ['--kubeconfig', controlPlane().kubeconfigPath];
      expect(await helm(['install', 'ebb', CHART, ...asUser])).to.match(/STATUS: deployed/);
      const namespace = JSON.parse((await kubectl(['get', 'namespace', 'ebb-system', '-o', 'json'])).stdout) as KubeObject;
      expect(namespace.metadata.labels).to.include({ 'app.kubernetes.io/part-of': 'ebb', 'pod-security.kubernetes.io/enforce': 'restricted' });
      const workloads = (await kubectl(['get', 'deployments,daemonsets', '-n', 'ebb-system', '-o', 'name'])).stdout.trim().split('\n');
      expect(workloads).to.have.members(['deployment.apps/ebb-controller', 'deployment.apps/ebb-webhook', 'daemonset.apps/ebb-agent']);
      await helm(['uninstall', 'ebb', ...asUser]);
      await eventually(
        'the namespace ebb-system deleted',
        () =>
          kubectl(['get', 'namespace', 'ebb-system']).then(
            () => undefined,
            () => true,
          ),
        60_000,
      );
    });

    // The namespace and the CRDs of cert-manager and the Prometheus Operator (vendored: crds/ here and
    // in ../monitoring/) for real first: a dry run creates nothing, and the objects need them.
    it("accepts every render, kustomize's and the chart's (defaults, cert-manager, monitoring), as a strict server-side dry run", async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ebb-renders-'));
      try {
        const renders = {
          kustomize: await kustomize('manifests'),
          chart: await helm(['template', 'ebb', CHART]),
          'chart with cert-manager': await helm(['template', 'ebb', CHART, '--set', 'certificates.mode=cert-manager']),
          'kustomize cert-manager overlay': await kustomize('manifests/overlays/cert-manager'),
          'chart with monitoring': await helm(['template', 'ebb', CHART, '--set', 'monitoring.enabled=true']),
        };
        const namespace = documents(renders.kustomize).find((object) => object.kind === 'Namespace')!;
        writeFileSync(join(dir, 'namespace.json'), JSON.stringify(namespace));
        for (const crds of [join(import.meta.dirname, 'crds'), join(import.meta.dirname, '../monitoring/crds')])
          await kubectl(['apply', '--server-side', '-f', crds]);
        await crdsEstablished(controlPlane().kubeConfig);
        await kubectl(['apply', '--server-side', '-f', join(dir, 'namespace.json')]);
        for (const [name, text] of Object.entries(renders)) {
          const file = join(dir, `${name.replaceAll(' ', '-')}.yaml`);
          writeFileSync(file, text);
          // Strict: a field a schema does not know is an error, not silently dropped.
          const { stdout } = await kubectl(['apply', '--server-side', '--dry-run=server', '--validate=strict', '-f', file]);
          const applied = stdout.split('\n').filter((line) => line.endsWith('(server dry run)'));
          expect(applied, name).to.have.length(documents(text).length);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
