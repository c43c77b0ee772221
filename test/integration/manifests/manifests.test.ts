// The install manifests (manifests/, `kubectl apply -k manifests`) as kubectl renders them and as
// a real API server takes them: the properties the README promises (least-privilege RBAC, the
// restricted Pod Security Standard, a webhook that fails open and never sees Kubernetes' or ebb's
// own pods, a policy that spells out the defaults), checked on the rendered objects, then applied
// for real (namespace, accounts, RBAC, webhook configuration) and as a server-side dry run (all),
// with the webhook, controller and agent run under their own accounts' tokens to show the RBAC
// is enough, and the applied webhook selectors exercised by the API server itself.

import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1DaemonSet,
  type V1Deployment,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
  type V1PodSpec,
  type V1PolicyRule,
  type V1Role,
} from '@kubernetes/client-node';
import { createWebhookCertificates } from '../../../certs/webhook-certificates.ts';
import { DEFAULT_POLICY, parsePolicy } from '../../../src/core/policy.ts';
import { BUILT_IN_DEFAULTS } from '../../../src/core/setting-schema.ts';
import { ensureWebhookCaBundle } from '../../../src/kube/ca-bundle.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';
import { freePort, killAll, startProgram } from '../../fixtures/processes.ts';
import { accountKubeconfig, probe } from './accounts.ts';
import { kubectl, MANIFESTS, NAMESPACE, render, type KubeObject } from './kustomize.ts';
import { playSecretVolume } from './secret-volume.ts';

const IMAGE = 'ghcr.io/ebb-dev/ebb:0.1.0';

const toYaml = (objects: readonly KubeObject[]) => objects.map((object) => JSON.stringify(object)).join('\n---\n');

function one<T>(objects: readonly KubeObject[], kind: string, name: string): T {
  const found = objects.filter((object) => object.kind === kind && object.metadata.name === name);
  expect(found, `${kind} ${name}`).to.have.length(1);
  return found[0] as T;
}

/** The wire form (client-node's type names the field `_from`). */
interface NetworkPolicy {
  spec: { podSelector: unknown; policyTypes: string[]; ingress: { from: unknown[]; ports: unknown[] }[] };
}

/** A rule as one line per resource, e.g. `apps/deployments/scale get,patch,update` or `/configmaps[ebb-policy] get`. */
function ruleLines(rules: readonly V1PolicyRule[] | undefined): string[] {
  return (rules ?? [])
    .flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).map((resource) => {
          const names = rule.resourceNames ? `[${rule.resourceNames.join(',')}]` : '';
          return `${group}/${resource}${names} ${[...rule.verbs].sort().join(',')}`;
        }),
      ),
    )
    .sort();
}

/** What the `restricted` Pod Security Standard and ebb's own rules ask of a pod; empty when met. */
function securityProblems(spec: V1PodSpec): string[] {
  const problems: string[] = [];
  const pod = spec.securityContext ?? {};
  if (pod.runAsNonRoot !== true) problems.push('pod: runAsNonRoot is not true');
  if (pod.runAsUser !== 65532) problems.push(`pod: runAsUser is ${pod.runAsUser}, not 65532`);
  if (pod.seccompProfile?.type !== 'RuntimeDefault') problems.push('pod: seccompProfile is not RuntimeDefault');
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push('pod: uses a host namespace');
  if ((spec.volumes ?? []).some((volume) => volume.hostPath)) problems.push('pod: mounts a hostPath');
  for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
    const context = container.securityContext ?? {};
    const where = `container ${container.name}`;
    if (context.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (context.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
    if (context.privileged) problems.push(`${where}: privileged`);
    if (!context.capabilities?.drop?.includes('ALL') || context.capabilities.add?.length) problems.push(`${where}: capabilities are not drop ALL`);
    if (context.runAsUser !== undefined && context.runAsUser !== 65532) problems.push(`${where}: runAsUser ${context.runAsUser}`);
    const resources = container.resources ?? {};
    if (!resources.requests?.cpu || !resources.requests.memory) problems.push(`${where}: no cpu and memory requests`);
    if (!resources.limits?.memory) problems.push(`${where}: no memory limit`);
    if (resources.limits?.cpu) problems.push(`${where}: a CPU limit (throttles the program)`);
  }
  return problems;
}

describe('install manifests', function () {
  this.timeout(120_000);
  let objects: KubeObject[];
  let workloads: { name: string; spec: V1PodSpec; labels: Record<string, string> }[];

  before(async () => {
    objects = await render();
    const deployments = objects.filter((object): object is KubeObject & V1Deployment => object.kind === 'Deployment');
    const daemonSets = objects.filter((object): object is KubeObject & V1DaemonSet => object.kind === 'DaemonSet');
    workloads = [...deployments, ...daemonSets].map((workload) => ({
      name: `${workload.kind} ${workload.metadata.name}`,
      spec: workload.spec!.template.spec!,
      labels: workload.spec!.template.metadata?.labels ?? {},
    }));
  });

  describe('as rendered by kubectl kustomize', () => {
    it('installs the namespace, the policy and each program, all in ebb-system and labelled part-of ebb', () => {
      const names = objects.map((object) => `${object.kind} ${object.metadata.name}`);
      expect(names).to.include.members([
        'Namespace ebb-system',
        'ConfigMap ebb-policy',
        'Deployment ebb-webhook',
        'Deployment ebb-controller',
        'DaemonSet ebb-agent',
        'Service ebb-webhook',
        'Service ebb-controller',
        'Service ebb-agent',
        'PodDisruptionBudget ebb-webhook',
        'PodDisruptionBudget ebb-controller',
        'MutatingWebhookConfiguration ebb',
        'NetworkPolicy ebb-webhook',
      ]);
      const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration']);
      for (const object of objects) {
        expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).to.equal(clusterScoped.has(object.kind) ? undefined : NAMESPACE);
        expect(object.metadata.labels?.['app.kubernetes.io/part-of'], `${object.kind} ${object.metadata.name}`).to.equal('ebb');
      }
      const namespace = one<KubeObject>(objects, 'Namespace', NAMESPACE);
      expect(namespace.metadata.labels).to.include({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    });

    it('writes out every default in the policy ConfigMap, and parsePolicy accepts it', () => {
      const configMap = one<V1ConfigMap>(objects, 'ConfigMap', 'ebb-policy');
      const parsed = parsePolicy(configMap.data!['policy.yaml']!);
      if (!parsed.ok) expect.fail(parsed.errors.map((error) => error.message).join('\n'));
      // Every setting that has a built-in default is written out with that value…
      expect(parsed.policy.defaults).to.deep.equal(BUILT_IN_DEFAULTS);
      // …and so is every other field, but for the image: one image holds every program.
      expect({ ...parsed.policy, defaults: {} }).to.deep.equal({ ...DEFAULT_POLICY, sidecar: { ...DEFAULT_POLICY.sidecar, image: IMAGE } });
    });

    it("registers a webhook that fails open, for pod CREATE only, never for Kubernetes', ebb's namespace or ebb's pods", () => {
      const configuration = one<V1MutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration', 'ebb');
      expect(configuration.webhooks).to.have.length(1);
      const webhook = configuration.webhooks![0]!;
      expect(webhook).to.deep.include({
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        matchPolicy: 'Equivalent',
        reinvocationPolicy: 'IfNeeded',
        admissionReviewVersions: ['v1'],
      });
      expect(webhook.timeoutSeconds).to.be.at.most(5);
      expect(webhook.rules).to.deep.equal([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
      expect(webhook.namespaceSelector).to.deep.equal({
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease'] },
          { key: 'app.kubernetes.io/part-of', operator: 'NotIn', values: ['ebb'] },
        ],
      });
      expect(webhook.objectSelector).to.deep.equal({ matchExpressions: [{ key: 'app.kubernetes.io/part-of', operator: 'NotIn', values: ['ebb'] }] });
      // The controller fills the caBundle; a value here would be reset by every `kubectl apply`.
      expect(webhook.clientConfig).to.deep.equal({ service: { name: 'ebb-webhook', namespace: NAMESPACE, path: '/mutate', port: 443 } });
      const service = one<KubeObject & { spec: { ports: { port: number; targetPort: string }[] } }>(objects, 'Service', 'ebb-webhook');
      expect(service.spec.ports).to.deep.equal([{ name: 'https', port: 443, targetPort: 'https' }]);
    });

    it("grants no wildcard, no Secrets but the webhook's two to the controller, and exactly the rules each program uses", () => {
      const roles = objects.filter((object): object is KubeObject & V1Role => object.kind === 'ClusterRole' || object.kind === 'Role');
      expect(roles.map((role) => `${role.kind} ${role.metadata.name}`)).to.have.members([
        'ClusterRole ebb-webhook',
        'Role ebb-webhook',
        'ClusterRole ebb-controller',
        'Role ebb-controller',
        'ClusterRole ebb-agent',
      ]);
      for (const role of roles) {
        for (const rule of role.rules ?? []) {
          const fields = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs, ...(rule.resourceNames ?? []), ...(rule.nonResourceURLs ?? [])];
          expect(
            fields.filter((field) => field.includes('*')),
            `${role.kind} ${role.metadata.name}`,
          ).to.deep.equal([]);
          if (`${role.kind} ${role.metadata.name}` !== 'Role ebb-controller')
            expect(rule.resources ?? [], `${role.kind} ${role.metadata.name}`).to.not.include('secrets');
        }
      }
      const rules = (kind: string, name: string) => ruleLines(one<V1Role>(objects, kind, name).rules);
      expect(rules('ClusterRole', 'ebb-webhook')).to.deep.equal([
        '/limitranges list,watch',
        '/namespaces get,list,watch',
        '/resourcequotas list,watch',
        'apps/deployments get,list,watch',
        'apps/replicasets get,list,watch',
      ]);
      expect(rules('Role', 'ebb-webhook')).to.deep.equal(['/configmaps list,watch', '/configmaps[ebb-policy] get']);
      expect(rules('ClusterRole', 'ebb-controller')).to.deep.equal([
        '/events create,patch',
        '/limitranges list,watch',
        '/namespaces get,list,watch',
        '/pods get,list,watch',
        '/pods/eviction create',
        '/pods/resize patch',
        '/services get,list,watch',
        'admissionregistration.k8s.io/mutatingwebhookconfigurations[ebb] get,patch',
        'apps/deployments get,list,patch,watch',
        'apps/deployments/scale get,patch',
        'apps/replicasets list,watch',
        'authentication.k8s.io/tokenreviews create',
        'autoscaling/horizontalpodautoscalers list,watch',
        'discovery.k8s.io/endpointslices create,delete,get,list,update,watch',
      ]);
      expect(rules('Role', 'ebb-controller')).to.deep.equal([
        '/configmaps create,delete,update',
        '/configmaps list,watch',
        '/configmaps[ebb-policy] get',
        '/secrets create',
        '/secrets[ebb-webhook-tls,ebb-webhook-ca] get,update',
        'coordination.k8s.io/leases create',
        'coordination.k8s.io/leases[ebb-controller] get,patch,update',
      ]);
      expect(rules('ClusterRole', 'ebb-agent')).to.deep.equal([
        '/nodes get',
        '/nodes/metrics get',
        '/pods list,watch',
        '/services list,watch',
        'authentication.k8s.io/tokenreviews create',
        'discovery.k8s.io/endpointslices list,watch',
      ]);
    });

    it('runs every workload under the restricted Pod Security Standard, non-root 65532, with requests and a memory limit', () => {
      expect(workloads.map((workload) => workload.name)).to.have.members(['Deployment ebb-webhook', 'Deployment ebb-controller', 'DaemonSet ebb-agent']);
      for (const workload of workloads) {
        expect(securityProblems(workload.spec), workload.name).to.deep.equal([]);
        // The webhook's objectSelector skips these pods: ebb must never inject itself.
        expect(workload.labels['app.kubernetes.io/part-of'], workload.name).to.equal('ebb');
      }
    });

    it('runs every program from the one image, chosen by command', () => {
      const commands = Object.fromEntries(
        workloads.map((workload) => {
          const [container] = workload.spec.containers;
          expect(container!.image, workload.name).to.equal(IMAGE);
          return [workload.name, container!.command];
        }),
      );
      expect(commands).to.deep.equal({
        'Deployment ebb-webhook': ['node', '/app/dist/webhook.mjs'],
        'Deployment ebb-controller': ['node', '/app/dist/controller.mjs'],
        'DaemonSet ebb-agent': ['node', '/app/dist/agent.mjs'],
      });
    });

    it('gives each program its files and no more: the webhook its key pair (optional: the controller creates it), the controller an ebb.dev token', () => {
      const spec = (name: string) => workloads.find((workload) => workload.name === name)!.spec;
      const webhook = spec('Deployment ebb-webhook');
      expect(webhook.volumes).to.deep.equal([
        {
          name: 'tls',
          secret: {
            secretName: 'ebb-webhook-tls',
            optional: true,
            items: [
              { key: 'tls.crt', path: 'tls.crt' },
              { key: 'tls.key', path: 'tls.key' },
            ],
          },
        },
      ]);
      expect(webhook.containers[0]!.volumeMounts).to.deep.equal([{ name: 'tls', mountPath: '/etc/ebb/tls', readOnly: true }]);
      expect(webhook.containers[0]!.readinessProbe?.httpGet).to.deep.include({ scheme: 'HTTPS', path: '/readyz', port: 'https' });
      expect(webhook.containers[0]!.livenessProbe?.httpGet).to.deep.include({ scheme: 'HTTPS', path: '/healthz', port: 'https' });

      const controller = spec('Deployment ebb-controller');
      expect(controller.serviceAccountName).to.equal('ebb-controller');
      // No Secret mounted: the controller creates the webhook's and reads them through the API
      // (a mount of a Secret that does not exist yet would keep its pod from starting).
      expect(controller.volumes).to.deep.equal([
        {
          name: 'ebb-token',
          projected: { sources: [{ serviceAccountToken: { path: 'token', audience: 'ebb.dev', expirationSeconds: 3600 } }] },
        },
      ]);
      const env = Object.fromEntries(
        (controller.containers[0]!.env ?? []).map((variable) => [variable.name, variable.value ?? variable.valueFrom?.fieldRef?.fieldPath]),
      );
      expect(env).to.include({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace', EBB_WEBHOOK_CERTIFICATES: 'self-managed' });
      expect(controller.containers[0]!.ports).to.deep.equal([{ name: 'http', containerPort: 18093 }]);

      const agent = spec('DaemonSet ebb-agent');
      const agentEnv = Object.fromEntries(
        (agent.containers[0]!.env ?? []).map((variable) => [variable.name, variable.value ?? variable.valueFrom?.fieldRef?.fieldPath]),
      );
      expect(agentEnv).to.include({ POD_NAMESPACE: 'metadata.namespace', EBB_CONTROLLER_URL: 'http://ebb-controller.$(POD_NAMESPACE).svc:18093' });

      for (const name of ['ebb-webhook', 'ebb-controller']) {
        const deployment = one<V1Deployment>(objects, 'Deployment', name);
        expect(deployment.spec?.replicas, name).to.equal(2);
        const [term] = deployment.spec?.template.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
        expect(term?.podAffinityTerm.topologyKey, name).to.equal('kubernetes.io/hostname');
        const budget = one<KubeObject & { spec: { minAvailable: number; selector: unknown } }>(objects, 'PodDisruptionBudget', name);
        expect(budget.spec, name).to.deep.equal({ minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': name } } });
      }
    });

    it("lets an overlay narrow the webhook's NetworkPolicy to the control plane's range with one patch", async () => {
      const policy = one<NetworkPolicy>(objects, 'NetworkPolicy', 'ebb-webhook');
      expect(policy.spec.podSelector).to.deep.equal({ matchLabels: { 'app.kubernetes.io/name': 'ebb-webhook' } });
      expect(policy.spec.policyTypes).to.deep.equal(['Ingress']);
      expect(policy.spec.ingress.map((rule) => rule.ports)).to.deep.equal([[{ protocol: 'TCP', port: 8443 }], [{ protocol: 'TCP', port: 8443 }]]);
      expect(policy.spec.ingress[1]?.from).to.deep.equal([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);

      const overlay = mkdtempSync(join(tmpdir(), 'ebb-overlay-'));
      try {
        writeFileSync(
          join(overlay, 'kustomization.yaml'),
          [
            'resources:',
            `  - ${relative(overlay, MANIFESTS)}`,
            'patches:',
            '  - target: {kind: NetworkPolicy, name: ebb-webhook}',
            '    patch: |-',
            '      - op: replace',
            '        path: /spec/ingress/0/from',
            '        value: [{ipBlock: {cidr: 172.16.0.0/28}}]',
            '',
          ].join('\n'),
        );
        const patched = one<NetworkPolicy>(await render(overlay), 'NetworkPolicy', 'ebb-webhook');
        expect(patched.spec.ingress[0]?.from).to.deep.equal([{ ipBlock: { cidr: '172.16.0.0/28' } }]);
        expect(patched.spec.ingress[1]).to.deep.equal(policy.spec.ingress[1]);
      } finally {
        rmSync(overlay, { recursive: true, force: true });
      }
    });
  });

  describe('against a real API server', () => {
    const controlPlane = useControlPlane({ nodes: 1 });
    let work: string;
    let baseFile: string;
    const kubeconfig = () => controlPlane().kubeconfigPath;

    // For real: what has no pods behind it (the namespace, the accounts, RBAC, the webhook
    // configuration). The rest is checked by the server-side dry run.
    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'ebb-manifests-'));
      const kinds = new Set(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'MutatingWebhookConfiguration']);
      baseFile = join(work, 'base.yaml');
      writeFileSync(baseFile, toYaml(objects.filter((object) => kinds.has(object.kind))));
      await kubectl(['apply', '--server-side', '-f', baseFile], kubeconfig());
    });
    after(() => rmSync(work, { recursive: true, force: true }));

    it('accepts the namespace, RBAC and webhook configuration, and they mean what they say', async () => {
      const core = controlPlane().kubeConfig.makeApiClient(CoreV1Api);
      const namespace = await core.readNamespace({ name: NAMESPACE });
      expect(namespace.metadata?.labels).to.include({ 'kubernetes.io/metadata.name': NAMESPACE, 'pod-security.kubernetes.io/enforce': 'restricted' });
      const admission = controlPlane().kubeConfig.makeApiClient(AdmissionregistrationV1Api);
      const stored = await admission.readMutatingWebhookConfiguration({ name: 'ebb' });
      const rendered = one<V1MutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration', 'ebb');
      expect(stored.webhooks?.[0]?.namespaceSelector).to.deep.equal(rendered.webhooks?.[0]?.namespaceSelector);
      expect(stored.webhooks?.[0]?.objectSelector).to.deep.equal(rendered.webhooks?.[0]?.objectSelector);
      // The namespace carries the label the namespaceSelector excludes ebb's namespace by.
      expect(stored.webhooks?.[0]?.namespaceSelector?.matchExpressions?.[1]?.values).to.include(namespace.metadata?.labels?.['app.kubernetes.io/part-of']);

      // The real authorizer: what each account may and may not do.
      // `can-i` exits 1 for "no" and for its own errors alike: only a printed yes or no counts.
      const can = async (account: string, ...args: string[]) => {
        const answer = await kubectl(['auth', 'can-i', `--as=system:serviceaccount:${NAMESPACE}:${account}`, ...args], kubeconfig()).then(
          ({ stdout }) => stdout,
          (error: { stdout?: string; stderr?: string }) => error.stdout || `error: ${error.stderr}`,
        );
        if (!/^(yes|no)\b/.test(answer)) throw new Error(`kubectl auth can-i ${args.join(' ')}: ${answer}`);
        return answer.startsWith('yes');
      };
      const checks: [string, string[], boolean][] = [
        ['ebb-webhook', ['list', 'deployments', '-A'], true],
        ['ebb-webhook', ['watch', 'configmaps', '-n', NAMESPACE], true],
        ['ebb-webhook', ['get', 'configmaps/ebb-policy', '-n', NAMESPACE], true],
        ['ebb-webhook', ['watch', 'resourcequotas', '-A'], true],
        ['ebb-webhook', ['list', 'configmaps', '-n', 'default'], false],
        ['ebb-webhook', ['get', 'secrets', '-n', NAMESPACE], false],
        ['ebb-webhook', ['patch', 'deployments', '-A'], false],
        ['ebb-controller', ['patch', 'deployments', '--subresource=scale', '-n', 'shop'], true],
        ['ebb-controller', ['update', 'deployments', '--subresource=scale', '-n', 'shop'], false],
        ['ebb-controller', ['patch', 'mutatingwebhookconfigurations/ebb'], true],
        ['ebb-controller', ['patch', 'mutatingwebhookconfigurations/someone-else'], false],
        ['ebb-controller', ['list', 'mutatingwebhookconfigurations'], false],
        ['ebb-controller', ['update', 'leases/ebb-controller', '-n', NAMESPACE], true],
        ['ebb-controller', ['update', 'leases/kube-scheduler', '-n', 'kube-system'], false],
        ['ebb-controller', ['get', 'secrets', '-n', NAMESPACE], false],
        ['ebb-controller', ['list', 'secrets', '-n', NAMESPACE], false],
        ['ebb-controller', ['get', 'secrets/ebb-webhook-tls', '-n', NAMESPACE], true],
        ['ebb-controller', ['update', 'secrets/ebb-webhook-ca', '-n', NAMESPACE], true],
        ['ebb-controller', ['get', 'secrets/someone-elses', '-n', NAMESPACE], false],
        ['ebb-controller', ['delete', 'secrets/ebb-webhook-tls', '-n', NAMESPACE], false],
        ['ebb-controller', ['patch', 'secrets/ebb-webhook-tls', '-n', NAMESPACE], false],
        ['ebb-controller', ['create', 'secrets', '-n', NAMESPACE], true],
        ['ebb-controller', ['create', 'secrets', '-n', 'shop'], false],
        ['ebb-controller', ['get', 'secrets/ebb-webhook-tls', '-n', 'shop'], false],
        ['ebb-controller', ['create', 'configmaps', '-n', NAMESPACE], true],
        ['ebb-controller', ['update', 'configmaps', '-n', 'shop'], false],
        ['ebb-controller', ['delete', 'pods', '-n', 'shop'], false],
        ['ebb-controller', ['create', 'pods', '--subresource=eviction', '-n', 'shop'], true],
        ['ebb-controller', ['patch', 'pods', '--subresource=resize', '-n', 'shop'], true],
        ['ebb-controller', ['patch', 'pods', '-n', 'shop'], false],
        ['ebb-agent', ['create', 'tokenreviews'], true],
        ['ebb-agent', ['get', 'secrets', '-A'], false],
        ['ebb-agent', ['get', 'nodes'], true],
        ['ebb-agent', ['get', 'nodes', '--subresource=metrics'], true],
        ['ebb-agent', ['list', 'nodes'], false],
        ['ebb-agent', ['patch', 'nodes'], false],
        ['ebb-agent', ['get', 'nodes', '--subresource=proxy'], false],
      ];
      const answers = await Promise.all(checks.map(([account, args]) => can(account, ...args)));
      expect(checks.map(([account, args], index) => `${account} ${args.join(' ')}: ${answers[index]}`)).to.deep.equal(
        checks.map(([account, args, allowed]) => `${account} ${args.join(' ')}: ${allowed}`),
      );
    });

    it('takes the whole base in a server-side dry run, with no Pod Security warning', async () => {
      const { stdout, stderr } = await kubectl(['apply', '--server-side', '--dry-run=server', '-k', MANIFESTS], kubeconfig());
      for (const object of objects) expect(stdout).to.include(`${object.metadata.name} serverside-applied (server dry run)`);
      expect(stderr, stderr).to.not.match(/PodSecurity|Warning/);

      // The check above would notice: the same Deployment without its securityContext is warned about.
      const loose = structuredClone(one<V1Deployment & KubeObject>(objects, 'Deployment', 'ebb-webhook'));
      delete loose.spec!.template.spec!.securityContext;
      delete loose.spec!.template.spec!.containers[0]!.securityContext;
      const looseFile = join(work, 'loose.yaml');
      writeFileSync(looseFile, JSON.stringify(loose));
      const warned = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', looseFile], kubeconfig());
      expect(warned.stderr).to.match(/would violate PodSecurity "restricted:latest"/);
    });

    it('keeps the caBundle the controller wrote when the manifests are applied again', async () => {
      const { ca } = createWebhookCertificates({ service: 'ebb-webhook', namespace: NAMESPACE });
      expect(await ensureWebhookCaBundle(controlPlane().kubeConfig, 'ebb', ca.certPem)).to.equal('updated');
      // Both ways of applying: client-side merges the webhooks list by name, server-side owns
      // only the fields the manifest sets.
      await kubectl(['apply', '--server-side', '-f', baseFile], kubeconfig());
      await kubectl(['apply', '-f', baseFile], kubeconfig());
      expect(await ensureWebhookCaBundle(controlPlane().kubeConfig, 'ebb', ca.certPem)).to.equal('unchanged');
    });

    /**
     * Runs the webhook, the controller and the agent as ebb installed into `namespace` runs them,
     * each under its own account's token: every one syncs and is ready, the controller leads,
     * creates the webhook's Secret (self-managed, as the manifests set it) and writes the caBundle,
     * and nothing is refused. The test plays the kubelet's Secret volume for the webhook.
     */
    async function runEveryProgram(namespace: string): Promise<void> {
      const kubeconfigOf = (account: string) => accountKubeconfig(controlPlane().kubeConfig, namespace, account, work);
      // The controller's certificate mode as the manifests set it (self-managed): it creates the
      // webhook's Secret, which this test copies into the webhook's files as the kubelet would.
      const controllerEnv = one<V1Deployment>(objects, 'Deployment', 'ebb-controller').spec!.template.spec!.containers[0]!.env ?? [];
      const mode = controllerEnv.find((variable) => variable.name === 'EBB_WEBHOOK_CERTIFICATES')?.value;
      const tlsDir = join(work, `tls-${namespace}`);
      const files = { cert: join(tlsDir, 'tls.crt'), key: join(tlsDir, 'tls.key'), token: join(work, 'ebb-token') };
      writeFileSync(files.token, 'unused: no agents here');

      const webhookPort = await freePort();
      const webhookOutput: string[] = [];
      const webhook = spawn(
        process.execPath,
        ['--import', 'tsx', 'webhook/main.ts', '--host', '127.0.0.1', '--port', String(webhookPort), '--tls-cert', files.cert, '--tls-key', files.key],
        {
          env: { ...process.env, KUBECONFIG: await kubeconfigOf('ebb-webhook'), POD_NAMESPACE: namespace },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      for (const output of [webhook.stdout, webhook.stderr]) output.on('data', (chunk: Buffer) => webhookOutput.push(chunk.toString()));
      const volume = playSecretVolume(controlPlane().kubeConfig, namespace, 'ebb-webhook-tls', tlsDir);
      try {
        // Before any certificate exists, the webhook serves (a placeholder) and is not ready.
        await eventually(`the webhook waiting for its certificate (${webhookOutput.join('')})`, async () =>
          (await probe(webhookPort, '/healthz')) === 200 ? true : undefined,
        );
        expect(await probe(webhookPort, '/readyz')).to.equal(503);
        const controller = await startProgram<{ port: number }>(
          'src/controller/main.ts',
          {
            KUBECONFIG: await kubeconfigOf('ebb-controller'),
            POD_NAME: 'ebb-controller-0',
            POD_NAMESPACE: namespace,
            EBB_CONTROLLER_HOST: '127.0.0.1',
            EBB_CONTROLLER_PORT: '0',
            EBB_TOKEN_FILE: files.token,
            EBB_WEBHOOK_CERTIFICATES: mode ?? 'unset in the manifests',
            EBB_TICK_MS: '200',
          },
          'controller listening',
          30_000,
        );
        const agent = await startProgram<{ activity: number }>(
          'agent/main.ts',
          {
            KUBECONFIG: await kubeconfigOf('ebb-agent'),
            NODE_NAME: controlPlane().nodeNames[0]!,
            POD_NAMESPACE: namespace,
            EBB_LISTEN_HOST: '127.0.0.1',
            EBB_AGENT_PORT: '0',
            EBB_TOKEN_FILE: files.token,
          },
          'agent listening',
          30_000,
        );
        const core = controlPlane().kubeConfig.makeApiClient(CoreV1Api);
        const secret = await eventually(`Secret ${namespace}/ebb-webhook-tls created by the controller (${controller.output.join('\n')})`, () =>
          core.readNamespacedSecret({ name: 'ebb-webhook-tls', namespace }).catch(() => undefined),
        );
        const caPem = Buffer.from(secret.data!['ca.crt']!, 'base64').toString();
        const serving = new X509Certificate(Buffer.from(secret.data!['tls.crt']!, 'base64'));
        expect(serving.subjectAltName).to.include(`DNS:ebb-webhook.${namespace}.svc`);
        const status = (url: string) =>
          new Promise<number>((done) => {
            const req = request(url, { ca: caPem, agent: false }, (res) => {
              res.resume();
              done(res.statusCode ?? 0);
            });
            req.on('error', () => done(0));
            req.end();
          });
        const controllerReady = () =>
          fetch(`http://127.0.0.1:${controller.ready.port}/readyz`).then(
            (res) => res.status,
            () => 0,
          );
        await eventually(`both ready (webhook: ${webhookOutput.join('')}; controller: ${controller.output.join('\n')})`, async () =>
          (await status(`https://127.0.0.1:${webhookPort}/readyz`)) === 200 && (await controllerReady()) === 200 ? true : undefined,
        );

        const coordination = controlPlane().kubeConfig.makeApiClient(CoordinationV1Api);
        await eventually('the controller holding the Lease', async () =>
          (await coordination.readNamespacedLease({ name: 'ebb-controller', namespace })).spec?.holderIdentity === 'ebb-controller-0' ? true : undefined,
        );
        const admission = controlPlane().kubeConfig.makeApiClient(AdmissionregistrationV1Api);
        const wanted = Buffer.from(caPem).toString('base64');
        await eventually('the caBundle written by the controller from its Secret', async () =>
          String((await admission.readMutatingWebhookConfiguration({ name: 'ebb' })).webhooks?.[0]?.clientConfig.caBundle) === wanted ? true : undefined,
        );
        // A few ticks later (five more counted by the controller, and a renewal of its Lease), still
        // nothing refused.
        const ticks = async () => {
          const line = (await (await fetch(`http://127.0.0.1:${controller.ready.port}/metrics`)).text())
            .split('\n')
            .find((l) => l.startsWith('ebb_controller_tick_duration_seconds_count '));
          if (line === undefined) throw new Error("no ebb_controller_tick_duration_seconds_count in the controller's metrics");
          return Number(line.split(' ')[1]);
        };
        const leaseVersion = async () => (await coordination.readNamespacedLease({ name: 'ebb-controller', namespace })).metadata?.resourceVersion;
        const before = { ticks: await ticks(), lease: await leaseVersion() };
        const refusedSoFar = () => [...webhookOutput, ...controller.output, ...agent.output].some((line) => /forbidden|\b403\b/i.test(line));
        await eventually('five more controller ticks and a renewal of its Lease (or a refusal)', async () =>
          (await ticks()) >= before.ticks + 5 && ((await leaseVersion()) !== before.lease || refusedSoFar()) ? true : undefined,
        );
        expect((await fetch(`http://127.0.0.1:${agent.ready.activity}/healthz`)).status).to.equal(200);
        // The agent answers the controller of its own namespace, whose token it checks with a TokenReview.
        const { stdout: controllerToken } = await kubectl(
          ['create', 'token', 'ebb-controller', '-n', namespace, '--audience', 'ebb.dev', '--duration=1h'],
          kubeconfig(),
        );
        const activity = await fetch(`http://127.0.0.1:${agent.ready.activity}/activity`, { headers: { Authorization: `Bearer ${controllerToken.trim()}` } });
        expect(activity.status, await activity.text()).to.equal(200);
        // The agent read its Node under its own account: what it lacks here is the kubelet token it reads next.
        await eventually(`the agent past reading its Node (${agent.output.join('\n')})`, () =>
          agent.output.some((line) => line.includes('reading the kubelet token')) ? true : undefined,
        );
        const refused = [...webhookOutput, ...controller.output, ...agent.output].filter((line) => /forbidden|\b403\b/i.test(line));
        expect(refused).to.deep.equal([]);
      } finally {
        webhook.kill('SIGKILL');
        await volume.stop();
        await killAll();
      }
    }

    it("is enough for every program: each, under its own account, syncs and is ready; the controller leads, creates the webhook's certificates and writes the caBundle", () =>
      runEveryProgram(NAMESPACE));

    // Last: it points the applied configuration, selectors untouched, at a recorder.
    it("admits ebb's pods under restricted in ebb-system without calling the webhook; other pods are sent to it", async () => {
      const certificates = createWebhookCertificates({ service: 'ebb-webhook', namespace: NAMESPACE, ipAddresses: ['127.0.0.1'] });
      const reviewed: string[] = [];
      const recorder: Server = createServer({ cert: certificates.serving.certPem, key: certificates.serving.keyPem }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string; namespace: string; object: V1Pod } };
          reviewed.push(`${review.request.namespace}/${review.request.object.metadata?.name}`);
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }));
        });
      });
      await new Promise<void>((listening) => recorder.listen(0, '127.0.0.1', listening));
      try {
        const admission = controlPlane().kubeConfig.makeApiClient(AdmissionregistrationV1Api);
        const url = `https://127.0.0.1:${(recorder.address() as AddressInfo).port}/mutate`;
        await admission.patchMutatingWebhookConfiguration(
          {
            name: 'ebb',
            body: [{ op: 'replace', path: '/webhooks/0/clientConfig', value: { url, caBundle: Buffer.from(certificates.ca.certPem).toString('base64') } }],
          },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        );
        const core = controlPlane().kubeConfig.makeApiClient(CoreV1Api);
        await core.createNamespace({ body: { metadata: { name: 'shop' } } });
        for (const namespace of [NAMESPACE, 'shop']) {
          await eventually(`the default service account in ${namespace}`, async () =>
            (await core.listNamespacedServiceAccount({ namespace })).items.some((account) => account.metadata?.name === 'default') ? true : undefined,
          );
        }
        const agentSpec = workloads.find((workload) => workload.name === 'DaemonSet ebb-agent')!.spec;
        const plain = (name: string, labels: Record<string, string> = {}): V1Pod => ({
          metadata: { name, labels },
          spec: {
            securityContext: agentSpec.securityContext,
            containers: [{ ...agentSpec.containers[0]!, name: 'app', command: ['sleep', '1'], env: [], volumeMounts: [] }],
          },
        });

        // ebb's own pods, exactly as the workloads template them: admitted under `restricted`
        // (and with the agent's node-critical priority), never sent to the webhook.
        for (const workload of workloads) {
          const name = workload.name.toLowerCase().replace(' ', '-');
          await core.createNamespacedPod({ namespace: NAMESPACE, body: { metadata: { name, labels: workload.labels }, spec: workload.spec } });
        }
        // Any pod in ebb-system, labelled part-of ebb or not: the namespaceSelector alone keeps it out.
        await core.createNamespacedPod({ namespace: NAMESPACE, body: plain('unlabelled') });
        // ebb's label keeps a pod out anywhere (the objectSelector).
        await core.createNamespacedPod({ namespace: 'shop', body: plain('part-of-ebb', { 'app.kubernetes.io/part-of': 'ebb' }) });
        // Everything else is sent (the recorder works, so the absences above mean something).
        await core.createNamespacedPod({ namespace: 'shop', body: plain('app') });
        expect(reviewed).to.deep.equal(['shop/app']);

        // The namespace enforces `restricted`: a pod that does not meet it is refused.
        const refused = await core
          .createNamespacedPod({ namespace: NAMESPACE, body: { metadata: { name: 'loose' }, spec: { containers: [{ name: 'app', image: IMAGE }] } } })
          .then(
            () => undefined,
            (error: { code?: number; body?: string }) => error,
          );
        expect(refused?.code).to.equal(403);
        expect((JSON.parse(refused?.body ?? '{}') as { message?: string }).message).to.match(/violates PodSecurity "restricted:latest"/);
      } finally {
        await new Promise((closed) => recorder.close(closed));
      }
    });

    // After the others: its cluster-scoped objects (the ClusterRoleBindings, the webhook
    // configuration, which the test before pointed at its recorder) replace the base's.
    it("installs into another namespace with kustomize's namespace alone, and every program runs there", async () => {
      const elsewhere = 'ebb-elsewhere';
      const overlay = mkdtempSync(join(tmpdir(), 'ebb-overlay-'));
      try {
        writeFileSync(join(overlay, 'kustomization.yaml'), ['namespace: ebb-elsewhere', 'resources:', `  - ${relative(overlay, MANIFESTS)}`, ''].join('\n'));
        const moved = await render(overlay);
        // Nothing still names the default namespace: not a Service URL, a binding's subject or a selector.
        expect(JSON.stringify(moved)).to.not.include(NAMESPACE);
        expect([...new Set(moved.flatMap((object) => object.metadata.namespace ?? []))]).to.deep.equal([elsewhere]);
        const movedFile = join(work, 'elsewhere.yaml');
        const kinds = new Set(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'MutatingWebhookConfiguration']);
        writeFileSync(movedFile, toYaml(moved.filter((object) => kinds.has(object.kind))));
        await kubectl(['delete', 'mutatingwebhookconfiguration', 'ebb'], kubeconfig());
        await kubectl(['apply', '--server-side', '--force-conflicts', '-f', movedFile], kubeconfig());
        await runEveryProgram(elsewhere);
      } finally {
        rmSync(overlay, { recursive: true, force: true });
      }
    });
  });
});
