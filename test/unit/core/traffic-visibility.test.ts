import type { IntOrString, V1ContainerPort, V1Pod, V1PodTemplateSpec, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { expect } from 'chai';
import fc from 'fast-check';
import jsonpatch from 'jsonpatch';
import { mutatePod } from '../../../src/core/mutation.ts';
import { DEFAULT_POLICY } from '../../../src/core/policy.ts';
import { trafficStatus, unobservedTraffic, type TrafficInput } from '../../../src/core/traffic-visibility.ts';
import { injectedPodTemplate } from '../../fixtures/pods.ts';

const LISTEN_PORT = DEFAULT_POLICY.sidecar.listenPort;
const labels = { app: 'podinfo' };
/** podinfo's ports, as most tutorials deploy it. */
const PODINFO_PORTS: V1ContainerPort[] = [
  { name: 'http', containerPort: 9898, protocol: 'TCP' },
  { name: 'http-metrics', containerPort: 9797, protocol: 'TCP' },
  { name: 'grpc', containerPort: 9999, protocol: 'TCP' },
];

const template = (ports: V1ContainerPort[] | undefined, spec: Partial<NonNullable<V1PodTemplateSpec['spec']>> = {}): V1PodTemplateSpec => ({
  metadata: { labels },
  spec: { containers: [{ name: 'podinfo', image: 'ghcr.io/stefanprodan/podinfo:6', ...(ports ? { ports } : {}) }], ...spec },
});
const service = (name: string, ...ports: V1ServicePort[]): V1Service => ({
  metadata: { name, namespace: 'shop' },
  spec: { selector: labels, ports },
});
const targeting = (targetPort: IntOrString | undefined, port = 80): V1ServicePort => ({
  name: 'http',
  port,
  ...(targetPort === undefined ? {} : { targetPort }),
});

function causes(overrides: Partial<TrafficInput>): readonly string[] {
  return unobservedTraffic({ template: template(PODINFO_PORTS), traffic: {}, listenPort: LISTEN_PORT, dryRun: false, services: [], ...overrides });
}

describe('traffic visibility', () => {
  it('answers again for the same template when a Service, the settings or the policy change, and gives back the same answer otherwise', () => {
    const asked = { template: template(PODINFO_PORTS), traffic: {}, listenPort: LISTEN_PORT, dryRun: false, services: [service('podinfo', targeting('http'))] };
    const observed = unobservedTraffic(asked);
    expect(observed).to.deep.equal([]);
    expect(unobservedTraffic({ ...asked, services: [...asked.services] })).to.equal(observed);
    expect(unobservedTraffic({ ...asked, services: [service('podinfo', targeting(9898))] })).to.have.length(1);
    expect(unobservedTraffic({ ...asked, traffic: { port: 'grpc' } })).to.have.length(1);
    expect(unobservedTraffic({ ...asked, dryRun: true })).to.have.length(1);
    expect(unobservedTraffic(asked)).to.deep.equal([]);
  });

  describe('a Service in front of the intercepted port', () => {
    it('is observed when it targets the port by name, which the interceptor takes over', () => {
      expect(causes({ services: [service('podinfo', targeting('http'))] })).to.deep.equal([]);
    });

    it("is observed when it targets the interceptor's own port by number", () => {
      expect(causes({ services: [service('podinfo', targeting(LISTEN_PORT))] })).to.deep.equal([]);
      expect(causes({ listenPort: 28080, services: [service('podinfo', targeting(28080))] })).to.deep.equal([]);
    });

    it('bypasses the interceptor when it targets the port by number: the podinfo example', () => {
      expect(causes({ services: [service('podinfo', targeting(9898))] })).to.deep.equal([
        "Service shop/podinfo targets port 9898 by number, which bypasses ebb's interceptor: set targetPort: http (the port's name)",
      ]);
    });

    it('bypasses it without a targetPort, which defaults to the port', () => {
      expect(causes({ services: [service('podinfo', targeting(undefined, 9898))] })).to.deep.equal([
        "Service shop/podinfo targets port 9898 by number, which bypasses ebb's interceptor: set targetPort: http (the port's name)",
      ]);
    });

    it('bypasses it when it targets ebb-app, the name the app port gets in the pod', () => {
      expect(causes({ services: [service('podinfo', targeting('ebb-app'))] })).to.deep.equal([
        "Service shop/podinfo targets port ebb-app, which bypasses ebb's interceptor: set targetPort: http (the port's name)",
      ]);
    });

    it('says to name an unnamed app port, whose interceptor port is ebb-listen', () => {
      const unnamed = template([{ containerPort: 8080 }]);
      expect(causes({ template: unnamed, services: [service('web', targeting(8080))] })).to.deep.equal([
        "Service shop/web targets port 8080 by number, which bypasses ebb's interceptor: name the containerPort 8080 (e.g. http) and set targetPort to that name",
      ]);
      expect(causes({ template: unnamed, services: [service('web', targeting('ebb-listen'))] })).to.deep.equal([]);
    });
  });

  describe('a Service in front of another port', () => {
    it('bypasses the interceptor when it targets another named port', () => {
      expect(causes({ services: [service('podinfo-grpc', targeting('grpc', 9999))] })).to.deep.equal([
        "Service shop/podinfo-grpc targets port grpc, which bypasses ebb's interceptor (it intercepts port http only): set targetPort: http, or set ebb.dev/port: grpc if that port serves the requests",
      ]);
    });

    it('bypasses it when it targets any other number', () => {
      expect(causes({ services: [service('metrics', targeting(9797))] })).to.deep.equal([
        "Service shop/metrics targets port 9797 by number, which bypasses ebb's interceptor (it intercepts port http only): set targetPort: http, or set ebb.dev/port: 9797 if that port serves the requests",
      ]);
    });

    it('sends nothing to the pods when it targets a name no container declares', () => {
      expect(causes({ services: [service('podinfo', targeting('web'))] })).to.deep.equal([]);
    });

    it('cannot be seen when it is not TCP', () => {
      expect(causes({ services: [service('dns', { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'http' })] })).to.deep.equal([
        'Service shop/dns port 53 is UDP, which ebb\'s interceptor (HTTP over TCP) cannot see: opt the workload out with ebb.dev/enabled: "false" if it serves no HTTP',
      ]);
    });

    it('names every port that bypasses, of every Service, and none that does not', () => {
      const found = causes({
        services: [service('podinfo', targeting('http'), targeting(9999, 9999)), service('podinfo-direct', targeting(9898))],
      });
      expect(found).to.have.length(2);
      expect(found[0]).to.match(/^Service shop\/podinfo targets port 9999 by number/);
      expect(found[1]).to.match(/^Service shop\/podinfo-direct targets port 9898 by number/);
      expect(trafficStatus(found)).to.equal(`not observed: ${found[0]}; ${found[1]}`);
    });
  });

  describe('the intercepted port, chosen as the webhook chooses it', () => {
    it('is the one ebb.dev/port names', () => {
      const traffic = { port: 'grpc' };
      expect(causes({ traffic, services: [service('grpc', targeting('grpc'))] })).to.deep.equal([]);
      expect(causes({ traffic, services: [service('podinfo', targeting('http'))] })).to.deep.equal([
        "Service shop/podinfo targets port http, which bypasses ebb's interceptor (it intercepts port grpc only): set targetPort: grpc, or set ebb.dev/port: http if that port serves the requests",
      ]);
      expect(causes({ traffic: { port: 9999 }, services: [service('grpc', targeting(9999))] })).to.deep.equal([
        "Service shop/grpc targets port 9999 by number, which bypasses ebb's interceptor: set targetPort: grpc (the port's name)",
      ]);
    });

    it('is the first TCP port when none is named http', () => {
      const ports = [
        { name: 'metrics', containerPort: 9797, protocol: 'UDP' },
        { name: 'web', containerPort: 8080 },
        { name: 'admin', containerPort: 8081 },
      ];
      expect(causes({ template: template(ports), services: [service('web', targeting('web'))] })).to.deep.equal([]);
    });
  });

  describe('a workload with no interceptor', () => {
    it('has no container port to intercept', () => {
      expect(causes({ template: template(undefined) })).to.deep.equal([
        'no container port to intercept: add a named containerPort (e.g. http) to the container that serves HTTP',
      ]);
      expect(trafficStatus(causes({ template: template(undefined) }))).to.equal(
        'not observed: no container port to intercept: add a named containerPort (e.g. http) to the container that serves HTTP',
      );
    });

    it('has ebb.dev/port naming no port', () => {
      expect(causes({ traffic: { port: 'web' } })).to.deep.equal([
        'ebb.dev/port "web" matches no TCP containerPort of the pod: set ebb.dev/port to the name or number of the port that serves HTTP',
      ]);
    });

    it('uses the host network', () => {
      expect(causes({ template: template(PODINFO_PORTS, { hostNetwork: true }) })).to.deep.equal([
        'the pod uses the host network, where a sidecar port would be a node port: ebb cannot intercept its traffic',
      ]);
    });

    it("is under the policy's dryRun", () => {
      expect(causes({ dryRun: true, services: [service('podinfo', targeting('http'))] })).to.deep.equal([
        "the policy's dryRun is on, so the webhook adds no interceptor to pods: set dryRun: false in ebb's policy (ConfigMap ebb-policy)",
      ]);
    });
  });

  describe('a template that already carries the interceptor (copied from a running pod)', () => {
    const ports = { app: 8080, listen: 28080, admin: 28090 };
    const injected = injectedPodTemplate(labels, ports);

    it('is observed through that interceptor, by name or by its number, and bypassed to ebb-app', () => {
      expect(causes({ template: injected, services: [service('web', targeting('http'), targeting(28080, 81))] })).to.deep.equal([]);
      expect(causes({ template: injected, services: [service('web', targeting(8080), targeting('ebb-app', 81))] })).to.deep.equal([
        "Service shop/web targets port 8080 by number, which bypasses ebb's interceptor: set targetPort: http (the port's name)",
        "Service shop/web targets port ebb-app, which bypasses ebb's interceptor: set targetPort: http (the port's name)",
      ]);
    });

    it('is not observed at all when it carries the annotation but no interceptor', () => {
      const annotatedOnly = { ...template(PODINFO_PORTS), metadata: { labels, annotations: { 'ebb.dev/injected': '{}' } } };
      expect(causes({ template: annotatedOnly })).to.deep.equal([
        'the pod template carries ebb.dev/injected or an ebb-interceptor container, so the webhook leaves its pods as they are, and they have no working interceptor: remove those from the template',
      ]);
    });
  });

  it('says observed when nothing goes around the interceptor', () => {
    expect(trafficStatus(causes({}))).to.equal('observed');
  });

  describe('agrees with the webhook and with how a Service reaches a pod', () => {
    // The container port a Service port reaches in a pod, as the endpoints controller resolves it:
    // a name among the containers' ports, then the sidecars'; a number as it is.
    const reached = (pod: V1Pod, target: IntOrString): number | undefined => {
      if (typeof target === 'number') return target;
      const sidecars = (pod.spec?.initContainers ?? []).filter((container) => container.restartPolicy === 'Always');
      return [...pod.spec!.containers, ...sidecars].flatMap((container) => container.ports ?? []).find((port) => port.name === target)?.containerPort;
    };
    // Numbers other than the policy's listen port: a pod declaring that one moves the sidecar to
    // another port, which only the webhook's patch knows.
    const portNumber = fc.constantFrom(80, 8080, 8081, 9898);
    const portName = fc.constantFrom('http', 'grpc', 'web', 'ebb-app', 'ebb-listen');
    const containerPort = fc.record({ name: fc.option(fc.constantFrom('http', 'grpc', 'web'), { nil: undefined }), containerPort: portNumber });
    // Port names and numbers are unique in a pod (the API server insists on the names).
    const containers = fc.array(fc.array(containerPort, { maxLength: 3 }), { minLength: 1, maxLength: 2 }).map((perContainer) => {
      const seen: V1ContainerPort[] = [];
      const isNew = (port: V1ContainerPort) =>
        !seen.some((other) => other.containerPort === port.containerPort || (port.name !== undefined && other.name === port.name));
      return perContainer.map((ports, index) => ({ name: `c${index}`, image: 'app:1', ports: ports.filter((port) => isNew(port) && seen.push(port) > 0) }));
    });
    const target = fc.oneof(portNumber, portName, fc.constant(LISTEN_PORT), fc.constant(undefined));
    const wanted = fc.option(fc.oneof(portName, portNumber), { nil: undefined });

    it('for any pod template, ebb.dev/port and Service ports', () => {
      fc.assert(
        fc.property(containers, wanted, fc.array(target, { minLength: 1, maxLength: 3 }), (specContainers, port, targets) => {
          const podTemplate: V1PodTemplateSpec = {
            metadata: { labels, ...(port === undefined ? {} : { annotations: { 'ebb.dev/port': String(port) } }) },
            spec: { containers: specContainers },
          };
          const pod: V1Pod = { metadata: podTemplate.metadata, spec: podTemplate.spec };
          const mutation = mutatePod({
            pod,
            namespace: { name: 'shop', labels: { 'ebb.dev/injection': 'enabled' } },
            deployment: { name: 'web' },
            policy: DEFAULT_POLICY,
            ebbNamespace: 'ebb-system',
          });
          const patched = jsonpatch.apply_patch(pod, mutation.patch);
          const sidecar = patched.spec?.initContainers?.find((container) => container.name === 'ebb-interceptor');
          const ports = targets.map((targetPort, index) => targeting(targetPort, 90 + index));
          const found = unobservedTraffic({
            template: podTemplate,
            traffic: { port: mutation.settings?.port },
            listenPort: LISTEN_PORT,
            dryRun: false,
            services: [service('web', ...ports)],
          });

          const listen = sidecar?.ports?.[0]?.containerPort;
          const bypassing = ports.filter((servicePort) => {
            const at = reached(patched, servicePort.targetPort ?? servicePort.port);
            return at !== undefined && at !== listen;
          });
          if (sidecar === undefined) expect(found).to.have.length(1);
          else expect(found).to.have.length(bypassing.length);
        }),
        { numRuns: 300 },
      );
    });
  });
});
