import type { V1Container, V1Pod, V1ResourceQuota } from '@kubernetes/client-node';
import { expect } from 'chai';
import jsonpatch from 'jsonpatch';
import { mutatePod, type InjectedRecord, type MutationInput } from '../../../src/core/mutation.ts';
import { DEFAULT_POLICY, type Policy } from '../../../src/core/policy.ts';
import { qosClass } from '../../../src/core/qos.ts';
import { deploymentPod } from './pods.ts';

const enabledNamespace = { name: 'shop', labels: { 'ebb.dev/injection': 'enabled' } };

/** One app container serving on `http` (8080) with these resources. */
const web = (resources?: V1Container['resources']) =>
  deploymentPod({ containers: [{ name: 'app', image: 'x', ports: [{ name: 'http', containerPort: 8080 }], ...(resources ? { resources } : {}) }] });
/** A memory request and nothing else: a Burstable pod, whose missing CPU request ebb fills in. */
const BURSTABLE = { requests: { memory: '64Mi' } };

function mutate(pod: V1Pod, overrides: Partial<MutationInput> = {}) {
  const result = mutatePod({ pod, namespace: enabledNamespace, deployment: { name: 'web' }, policy: DEFAULT_POLICY, ebbNamespace: 'ebb-system', ...overrides });
  return { ...result, patched: jsonpatch.apply_patch(pod, result.patch) };
}

const sidecarOf = (pod: V1Pod) => pod.spec!.initContainers!.find((container) => container.name === 'ebb-interceptor');
const injectedRecord = (pod: V1Pod) => JSON.parse(pod.metadata!.annotations!['ebb.dev/injected']!) as InjectedRecord;
const env = (container: V1Container) => Object.fromEntries((container.env ?? []).map((entry) => [entry.name, entry.value]));

describe('mutatePod', () => {
  it('injects an opted-in pod: annotations, requests, the interceptor, and takes over the port name', () => {
    const { injected, patch, patched } = mutate(web(BURSTABLE));
    expect(injected).to.equal(true);
    expect(patch.every((operation) => operation.op === 'add')).to.equal(true);
    expect(patch[0]!.path).to.equal('/metadata/annotations');

    const record = injectedRecord(patched);
    expect(record).to.deep.include({ v: 1, workload: 'shop/web', sidecar: 'injected' });
    expect(record.settings).to.deep.include({ 'min-replicas': '0', 'idle-after': '15m', resize: 'initial' });
    expect(patched.metadata!.annotations).to.deep.include({ 'ebb.dev/max-replicas': '10', 'ebb.dev/idle-after': '15m' });

    const app = patched.spec!.containers[0]!;
    expect(app.ports).to.deep.equal([{ name: 'ebb-app', containerPort: 8080 }]);
    expect(app.resources).to.deep.equal({ requests: { memory: '64Mi', cpu: '100m' } });

    const sidecar = sidecarOf(patched)!;
    expect(sidecar.restartPolicy).to.equal('Always');
    expect(sidecar.image).to.equal(DEFAULT_POLICY.sidecar.image);
    expect(sidecar.ports).to.deep.equal([
      { name: 'http', containerPort: 18080, protocol: 'TCP' },
      { name: 'ebb-admin', containerPort: 18090, protocol: 'TCP' },
    ]);
    expect(env(sidecar)).to.deep.equal({
      EBB_APP_PORT: '8080',
      EBB_LISTEN_PORT: '18080',
      EBB_ADMIN_PORT: '18090',
      EBB_WORKLOAD: 'shop/web',
      NODE_OPTIONS: '--max-semi-space-size=1',
    });
    expect(sidecar.readinessProbe?.httpGet).to.deep.equal({ path: '/ready', port: 'ebb-admin' });
    expect(sidecar.resources).to.deep.equal({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } });
    expect(sidecar.securityContext).to.deep.equal({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('escapes "/" in annotation keys when the pod already has annotations', () => {
    const { patch, patched } = mutate(deploymentPod({ annotations: { team: 'a' } }));
    expect(patch.map((operation) => operation.path)).to.include('/metadata/annotations/ebb.dev~1injected');
    expect(patched.metadata!.annotations!.team).to.equal('a');
  });

  it("keeps the pod's own ebb annotations as written", () => {
    const { patched } = mutate(deploymentPod({ annotations: { 'ebb.dev/idle-after': '60m' } }));
    expect(patched.metadata!.annotations!['ebb.dev/idle-after']).to.equal('60m');
    expect(injectedRecord(patched).settings['idle-after']).to.equal('1h');
  });

  it('appends to existing init containers rather than replacing them', () => {
    const init = { name: 'migrate', image: 'example/migrate:1' };
    const { patch, patched } = mutate(deploymentPod({ initContainers: [init] }));
    expect(patch.map((operation) => operation.path)).to.include('/spec/initContainers/-');
    expect(patched.spec!.initContainers!.map((container) => container.name)).to.deep.equal(['migrate', 'ebb-interceptor']);
  });

  const portChoices: [string, V1Container[], Record<string, string>, number, string][] = [
    [
      'the port named http',
      [
        {
          name: 'app',
          ports: [
            { name: 'metrics', containerPort: 9090 },
            { name: 'http', containerPort: 8080 },
          ],
        },
      ],
      {},
      8080,
      'http',
    ],
    [
      'else the first TCP port',
      [
        {
          name: 'app',
          ports: [
            { name: 'dns', containerPort: 53, protocol: 'UDP' },
            { name: 'web', containerPort: 3000 },
          ],
        },
      ],
      {},
      3000,
      'web',
    ],
    [
      'the port ebb.dev/port names',
      [
        {
          name: 'app',
          ports: [
            { name: 'http', containerPort: 8080 },
            { name: 'api', containerPort: 9000 },
          ],
        },
      ],
      { 'ebb.dev/port': 'api' },
      9000,
      'api',
    ],
    [
      'the port ebb.dev/port numbers, in another container',
      [
        { name: 'a', ports: [{ name: 'http', containerPort: 8080 }] },
        { name: 'b', ports: [{ name: 'grpc', containerPort: 9000 }] },
      ],
      { 'ebb.dev/port': '9000' },
      9000,
      'grpc',
    ],
    ['an unnamed port, whose sidecar port gets ebb-listen', [{ name: 'app', ports: [{ containerPort: 8080 }] }], {}, 8080, 'ebb-listen'],
  ];
  for (const [name, containers, annotations, appPort, sidecarPortName] of portChoices) {
    it(`intercepts ${name}`, () => {
      const { patched } = mutate(deploymentPod({ containers: containers.map((c) => ({ image: 'x', ...c })), annotations }));
      const sidecar = sidecarOf(patched)!;
      expect(env(sidecar).EBB_APP_PORT).to.equal(String(appPort));
      expect(sidecar.ports![0]!.name).to.equal(sidecarPortName);
      const renamed = patched.spec!.containers.flatMap((c) => c.ports ?? []).find((port) => port.containerPort === appPort)!;
      expect(renamed.name).to.equal(sidecarPortName === 'ebb-listen' ? undefined : 'ebb-app');
    });
  }

  it('moves its own ports off numbers the app declares', () => {
    const { patched } = mutate(
      deploymentPod({
        containers: [
          {
            name: 'app',
            ports: [
              { name: 'http', containerPort: 18080 },
              { name: 'x', containerPort: 18081 },
            ],
          },
        ],
      }),
    );
    expect(sidecarOf(patched)!.ports!.map((port) => port.containerPort)).to.deep.equal([18082, 18090]);
  });

  const noSidecar: [string, V1Pod, string][] = [
    [
      'no containerPort',
      deploymentPod({ containers: [{ name: 'worker', image: 'w', resources: BURSTABLE }] }),
      'none: no container declares a TCP containerPort',
    ],
    [
      'an ebb.dev/port that matches nothing',
      { ...web(BURSTABLE), metadata: { ...web().metadata, annotations: { 'ebb.dev/port': '1234' } } },
      'none: ebb.dev/port "1234" matches no TCP containerPort',
    ],
    ['the host network', { ...web(BURSTABLE), spec: { ...web(BURSTABLE).spec!, hostNetwork: true } }, 'none: the pod uses the host network'],
  ];
  for (const [name, pod, why] of noSidecar) {
    it(`gives annotations and requests but no sidecar for ${name}, and says why`, () => {
      const { injected, patched } = mutate(pod);
      expect(injected).to.equal(true);
      expect(patched.spec!.initContainers).to.equal(undefined);
      expect(injectedRecord(patched).sidecar).to.include(why);
      expect(patched.spec!.containers[0]!.resources?.requests).to.deep.equal({ memory: '64Mi', cpu: '100m' });
    });
  }

  describe('requests', () => {
    const withResources = web;
    const requestsAfter = (pod: V1Pod, overrides: Partial<MutationInput> = {}) => mutate(pod, overrides).patched.spec!.containers[0]!.resources;
    const recommendation = { app: { cpuMillis: 300, memoryBytes: 256 * 2 ** 20 } };

    it('uses the recommendation for a container without requests', () => {
      const pod = deploymentPod({
        containers: [
          { name: 'app', image: 'x' },
          { name: 'log', image: 'y', resources: { requests: { cpu: '10m' } } },
        ],
      });
      expect(requestsAfter(pod, { recommendation })).to.deep.equal({ requests: { cpu: '300m', memory: '256Mi' } });
    });

    it('never sets a request above the limit', () => {
      const limited = { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '50m', memory: '64Mi' } };
      expect(requestsAfter(withResources(limited), { recommendation: { app: { cpuMillis: 300, memoryBytes: 20 * 2 ** 20 } } })).to.deep.equal({
        requests: { cpu: '50m', memory: '20Mi' },
        limits: limited.limits,
      });
    });

    it("keeps the user's requests when there is no recommendation, or resize is off", () => {
      const user = { requests: { cpu: '1', memory: '1Gi' } };
      expect(requestsAfter(withResources(user))).to.deep.equal(user);
      expect(requestsAfter(withResources(user), { recommendation, deployment: { name: 'web', annotations: { 'ebb.dev/resize': 'off' } } })).to.deep.equal(user);
    });

    it("replaces the user's requests with the recommendation when resize allows it", () => {
      expect(requestsAfter(withResources({ requests: { cpu: '1', memory: '1Gi' } }), { recommendation })).to.deep.equal({
        requests: { cpu: '300m', memory: '256Mi' },
      });
    });

    it('leaves a request that equals its limit (Guaranteed QoS)', () => {
      const guaranteed = { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '2Gi' } };
      expect(requestsAfter(withResources(guaranteed), { recommendation })).to.deep.equal({
        requests: { cpu: '1', memory: '256Mi' },
        limits: guaranteed.limits,
      });
    });

    it('while the recommendation is raise-only, raises a request and never lowers one', () => {
      const raiseOnly = { app: { cpuMillis: 300, memoryBytes: 256 * 2 ** 20, raiseOnly: true } };
      expect(requestsAfter(withResources({ requests: { cpu: '100m', memory: '1Gi' } }), { recommendation: raiseOnly })).to.deep.equal({
        requests: { cpu: '300m', memory: '1Gi' },
      });
    });

    it("raises a memory limit below the recommendation's upper bound to it, within the LimitRange max, and never adds a limit", () => {
      const recommended = { app: { cpuMillis: 300, memoryBytes: 200 * 2 ** 20, memoryUpperBytes: 400 * 2 ** 20 } };
      const limited = { requests: { cpu: '100m', memory: '100Mi' }, limits: { cpu: '1', memory: '256Mi' } };
      expect(requestsAfter(withResources(limited), { recommendation: recommended })).to.deep.equal({
        requests: { cpu: '300m', memory: '200Mi' },
        limits: { cpu: '1', memory: '400Mi' },
      });
      const bounds = { cpu: {}, memory: { max: 300 * 2 ** 20 } };
      expect(requestsAfter(withResources(limited), { recommendation: recommended, containerBounds: bounds })!.limits).to.deep.equal({
        cpu: '1',
        memory: '300Mi',
      });
      expect(requestsAfter(withResources({ requests: { cpu: '100m', memory: '100Mi' } }), { recommendation: recommended })).to.deep.equal({
        requests: { cpu: '300m', memory: '200Mi' },
      });
      expect(
        requestsAfter(withResources(limited), { recommendation: recommended, deployment: { name: 'web', annotations: { 'ebb.dev/resize': 'off' } } }),
      ).to.deep.equal(limited);
    });

    it('keeps requests within cpu-min/cpu-max and memory-min/memory-max', () => {
      const annotations = { 'ebb.dev/cpu-min': '500m', 'ebb.dev/memory-max': '100Mi' };
      const pod = { ...web(BURSTABLE), metadata: { ...web().metadata, annotations } };
      expect(requestsAfter(pod, { recommendation })!.requests).to.deep.equal({ memory: '100Mi', cpu: '500m' });
    });

    it('adds only the missing resource inside existing requests', () => {
      const { patch, patched } = mutate(withResources({ requests: { memory: '1Gi' } }));
      expect(patch.map((operation) => operation.path)).to.include('/spec/containers/0/resources/requests/cpu');
      expect(patched.spec!.containers[0]!.resources!.requests).to.deep.equal({ memory: '1Gi', cpu: '100m' });
    });
  });

  it('changes nothing on a pod that is already injected, or once more on its own output', () => {
    const { patched } = mutate(deploymentPod());
    expect(mutate(patched).patch).to.deep.equal([]);
    const withSidecarOnly = deploymentPod({ initContainers: [{ name: 'ebb-interceptor', image: 'x' }] });
    expect(mutate(withSidecarOnly)).to.deep.include({ injected: false, reason: 'already injected', patch: [] });
  });

  it('does nothing to a pod that is not opted in, or has no Deployment', () => {
    expect(mutate(deploymentPod(), { namespace: { name: 'shop' } })).to.deep.include({ injected: false, patch: [] });
    expect(mutate(deploymentPod(), { deployment: undefined })).to.deep.include({
      injected: false,
      patch: [],
      reason: 'it is not owned by a Deployment (ebb scales Deployments)',
    });
  });

  it('resolves settings with the policy and reports invalid annotations in the result and the record', () => {
    const policy: Policy = { ...DEFAULT_POLICY, defaults: { 'max-replicas': 4 }, namespaces: new Map([['shop', { settings: { 'idle-after': 60_000 } }]]) };
    const { settings, errors, patched } = mutate(deploymentPod({ annotations: { 'ebb.dev/min-replicas': 'one' } }), {
      policy,
      deployment: { name: 'web', annotations: { 'ebb.dev/target-concurrency': '25' } },
    });
    expect(settings).to.deep.include({ 'max-replicas': 4, 'idle-after': 60_000, 'target-concurrency': 25, 'min-replicas': 0, enabled: true });
    expect(errors.map((error) => error.key)).to.deep.equal(['ebb.dev/min-replicas']);
    expect(injectedRecord(patched).errors).to.deep.equal([errors[0]!.message]);
  });

  describe('keeps the QoS class', () => {
    const MiB = 2 ** 20;

    it('Guaranteed: the app is left alone, the sidecar gets limits equal to its requests, CPU included', () => {
      const guaranteed = { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '500m', memory: '256Mi' } };
      const { patched } = mutate(web(guaranteed), { recommendation: { app: { cpuMillis: 300, memoryBytes: 1024 * MiB } } });
      expect(patched.spec!.containers[0]!.resources).to.deep.equal(guaranteed);
      // Memory at the policy's limit (128Mi), not its request (64Mi): the interceptor's RSS is close to 64Mi.
      expect(sidecarOf(patched)!.resources).to.deep.equal({ requests: { cpu: '10m', memory: '128Mi' }, limits: { cpu: '10m', memory: '128Mi' } });
      expect(qosClass(patched.spec)).to.equal('Guaranteed');
    });

    it('Guaranteed in a LimitRange: requests and limits move into its bounds together', () => {
      const guaranteed = { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } };
      const containerBounds = { cpu: { min: 50, max: 2000, defaultLimit: 2000 }, memory: { min: 64 * MiB, max: 96 * MiB, defaultLimit: 96 * MiB } };
      const { patched } = mutate(web(guaranteed), { containerBounds });
      expect(sidecarOf(patched)!.resources).to.deep.equal({ requests: { cpu: '50m', memory: '96Mi' }, limits: { cpu: '50m', memory: '96Mi' } });
      expect(qosClass(patched.spec)).to.equal('Guaranteed');
    });

    it('BestEffort: no requests for the app, none for the sidecar', () => {
      const { patched } = mutate(web(), { recommendation: { app: { cpuMillis: 300, memoryBytes: 256 * MiB } } });
      expect(patched.spec!.containers[0]!.resources).to.equal(undefined);
      expect(sidecarOf(patched)!.resources).to.equal(undefined);
      expect(injectedRecord(patched).sidecar).to.equal('injected');
      expect(qosClass(patched.spec)).to.equal('BestEffort');
    });

    it("Burstable: where a recommendation would bring every request to its limit, the user's requests stay", () => {
      const limited = { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '1Gi' } };
      const everything = mutate(web(limited), { recommendation: { app: { cpuMillis: 2000, memoryBytes: 2048 * MiB } } }).patched;
      expect(everything.spec!.containers[0]!.resources).to.deep.equal(limited);
      expect(qosClass(everything.spec)).to.equal('Burstable');
      const cpuOnly = mutate(web(limited), { recommendation: { app: { cpuMillis: 2000, memoryBytes: 128 * MiB } } }).patched;
      expect(cpuOnly.spec!.containers[0]!.resources!.requests).to.deep.equal({ cpu: '1', memory: '128Mi' });
    });
  });

  describe('in a namespace with ResourceQuotas', () => {
    const quota = (name: string, hard: Record<string, string>, used: Record<string, string> = {}, scoping: V1ResourceQuota['spec'] = {}): V1ResourceQuota => ({
      metadata: { name, namespace: 'shop' },
      spec: { ...scoping, hard },
      status: { hard, used },
    });
    /** Limits on the app too, as a namespace whose quota tracks them needs (a LimitRange default would give them). */
    const limitedApp = () => web({ requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } });

    it('gives the sidecar every limit a quota tracks: the CPU limit at its request when nothing else gives one', () => {
      const { patched } = mutate(limitedApp(), { resourceQuotas: [quota('compute', { 'limits.cpu': '4', 'limits.memory': '8Gi' })] });
      expect(sidecarOf(patched)!.resources).to.deep.equal({ requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '10m', memory: '128Mi' } });
      expect(qosClass(patched.spec)).to.equal('Burstable');
    });

    it("takes the CPU limit from the namespace's LimitRange default when there is one", () => {
      const containerBounds = { cpu: { defaultLimit: 200 }, memory: { defaultLimit: 512 * 2 ** 20 } };
      const { patched } = mutate(limitedApp(), { containerBounds, resourceQuotas: [quota('compute', { 'limits.cpu': '4' })] });
      // The policy's memory limit is the interceptor's own; the LimitRange default fills in only the CPU limit.
      expect(sidecarOf(patched)!.resources!.limits).to.deep.equal({ cpu: '200m', memory: '128Mi' });
    });

    it('leaves the sidecar out when a quota has no room for it, and says which quota, which resource, how much', () => {
      const resourceQuotas = [
        quota('roomy', { 'requests.memory': '10Gi' }),
        quota('compute', { 'requests.cpu': '1', pods: '10' }, { 'requests.cpu': '900m', pods: '3' }),
      ];
      const { injected, patched } = mutate(limitedApp(), { resourceQuotas });
      expect(injected).to.equal(true);
      expect(patched.spec!.initContainers).to.equal(undefined);
      expect(patched.spec!.containers[0]!.ports).to.deep.equal([{ name: 'http', containerPort: 8080 }]);
      expect(injectedRecord(patched).sidecar).to.equal(
        'none: ResourceQuota "compute" has no room for the sidecar: requests.cpu 10m missing (hard 1, used 900m, this pod 100m + the sidecar 10m)',
      );
    });

    it('injects when the pod and the sidecar fit exactly', () => {
      const { patched } = mutate(limitedApp(), { resourceQuotas: [quota('compute', { 'requests.cpu': '1' }, { 'requests.cpu': '890m' })] });
      expect(sidecarOf(patched)).to.not.equal(undefined);
    });

    it('counts only the quotas whose scopes select the pod', () => {
      const full = { 'limits.cpu': '1', 'requests.cpu': '1' };
      const resourceQuotas = [
        quota('jobs', full, full, { scopes: ['Terminating'] }),
        quota('batch', full, full, { scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['batch'] }] } }),
        quota('best-effort', { pods: '0' }, { pods: '0' }, { scopes: ['BestEffort'] }),
      ];
      const { patched } = mutate(limitedApp(), { resourceQuotas });
      expect(sidecarOf(patched)!.resources).to.deep.equal({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '128Mi' } });
    });
  });

  it('in policy dry-run, only records what it would do', () => {
    const { injected, patch, patched } = mutate(deploymentPod(), { policy: { ...DEFAULT_POLICY, dryRun: true } });
    expect(injected).to.equal(true);
    expect(patch).to.have.length(1);
    expect(injectedRecord(patched)).to.deep.include({ dryRun: true, sidecar: 'injected' });
    expect(patched.spec).to.deep.equal(deploymentPod().spec);
  });
});
