import { expect } from 'chai';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { backendCandidates, isServingPod, selects, servicePortNamed } from '../../../agent/node/activator/pod-backends.ts';
import { podPortFor } from '../../../src/core/service-target.ts';

/** A pod as the webhook leaves it: the app's `http` renamed to `ebb-app`, the sidecar owning `http`. */
function injectedPod(
  name: string,
  overrides: { ip?: string; ready?: boolean; terminating?: boolean; labels?: Record<string, string>; namespace?: string } = {},
): V1Pod {
  return {
    metadata: {
      name,
      namespace: overrides.namespace ?? 'shop',
      labels: overrides.labels ?? { app: 'web' },
      annotations: { 'ebb.dev/injected': 'v1' },
      ...(overrides.terminating ? { deletionTimestamp: new Date() } : {}),
    },
    spec: {
      initContainers: [
        {
          name: 'ebb-interceptor',
          restartPolicy: 'Always',
          ports: [
            { name: 'http', containerPort: 8081 },
            { name: 'ebb-admin', containerPort: 18090 },
          ],
        },
      ],
      containers: [{ name: 'app', ports: [{ name: 'ebb-app', containerPort: 8080 }] }],
    },
    status: {
      phase: 'Running',
      ...(overrides.ip === '' ? {} : { podIP: overrides.ip ?? '10.1.0.5' }),
      conditions: [{ type: 'Ready', status: overrides.ready === false ? 'False' : 'True' }],
    },
  };
}

const service = (targetPort: number | string | undefined, selector: Record<string, string> | null = { app: 'web' }): V1Service => ({
  metadata: { name: 'web', namespace: 'shop' },
  spec: { ...(selector ? { selector } : {}), ports: [{ name: 'http', port: 80, ...(targetPort === undefined ? {} : { targetPort }) }] },
});

describe('activator backends from pods', () => {
  describe('isServingPod', () => {
    it('is true only for a Ready pod with an IP that is not terminating', () => {
      expect(isServingPod(injectedPod('a'))).to.equal(true);
      expect(isServingPod(injectedPod('a', { ready: false }))).to.equal(false);
      expect(isServingPod(injectedPod('a', { terminating: true }))).to.equal(false);
      expect(isServingPod(injectedPod('a', { ip: '' }))).to.equal(false);
      const pending: V1Pod = { metadata: { name: 'p' }, status: { phase: 'Pending', podIP: '10.1.0.9' } };
      expect(isServingPod(pending)).to.equal(false);
    });
  });

  describe('the pod port of a Service port (podPortFor, which the activator resolves its backends with)', () => {
    const port = (targetPort: number | string | undefined, protocol?: string) => ({
      name: 'http',
      port: 80,
      protocol,
      ...(targetPort === undefined ? {} : { targetPort }),
    });

    it('resolves a name taken over by the webhook to the sidecar’s port, not the app’s', () => {
      expect(podPortFor(injectedPod('a'), port('http'))).to.equal(8081);
    });

    it('resolves a name on a plain container, and prefers containers over sidecars like Kubernetes does', () => {
      const pod = injectedPod('a');
      pod.spec!.containers[0]!.ports!.push({ name: 'http', containerPort: 9000 });
      expect(podPortFor(pod, port('http'))).to.equal(9000);
      expect(podPortFor(pod, port('ebb-app'))).to.equal(8080);
    });

    it('takes a number as it is, and an unset targetPort as the Service port', () => {
      expect(podPortFor(injectedPod('a'), port(8080))).to.equal(8080);
      expect(podPortFor(injectedPod('a'), port(undefined))).to.equal(80);
    });

    it('finds nothing for an unknown name, another protocol, or a name on a plain init container', () => {
      expect(podPortFor(injectedPod('a'), port('grpc'))).to.equal(undefined);
      expect(podPortFor(injectedPod('a'), port('http', 'UDP'))).to.equal(undefined);
      const pod = injectedPod('a');
      delete pod.spec!.initContainers![0]!.restartPolicy;
      expect(podPortFor(pod, port('http'))).to.equal(undefined);
    });
  });

  describe('selects and servicePortNamed', () => {
    it('matches every selector label; a Service without a selector has no pods', () => {
      expect(selects(service('http'), injectedPod('a', { labels: { app: 'web', tier: 'front' } }))).to.equal(true);
      expect(selects(service('http', { app: 'web', tier: 'back' }), injectedPod('a', { labels: { app: 'web', tier: 'front' } }))).to.equal(false);
      expect(selects(service('http', null), injectedPod('a'))).to.equal(false);
      expect(selects(service('http', {}), injectedPod('a'))).to.equal(false);
    });

    it('picks the named Service port, and none when the Service has no port of that name', () => {
      const svc: V1Service = {
        spec: {
          ports: [
            { name: 'grpc', port: 90 },
            { name: 'http', port: 80 },
          ],
        },
      };
      expect(servicePortNamed(svc, 'http')?.port).to.equal(80);
      expect(servicePortNamed(svc, 'metrics')).to.equal(undefined);
      expect(servicePortNamed({ spec: { ports: [{ port: 8080 }] } }, '')?.port).to.equal(8080);
      expect(servicePortNamed({ spec: {} }, 'http')).to.equal(undefined);
    });
  });

  describe('backendCandidates', () => {
    it('lists the serving pods the Service selects, at the resolved port, with the interceptor’s readiness URL', () => {
      const pods = [
        injectedPod('ready', { ip: '10.1.0.5' }),
        injectedPod('not-ready', { ip: '10.1.0.6', ready: false }),
        injectedPod('other-app', { ip: '10.1.0.7', labels: { app: 'other' } }),
        injectedPod('other-namespace', { ip: '10.1.0.8', namespace: 'mall' }),
        injectedPod('terminating', { ip: '10.1.0.9', terminating: true }),
      ];
      expect(backendCandidates(service('http'), 'http', pods)).to.deep.equal([
        { pod: 'shop/ready', backend: { host: '10.1.0.5', port: 8081 }, readyUrl: 'http://10.1.0.5:18090/ready' },
      ]);
    });

    it('probes the backend port itself for a pod without the interceptor', () => {
      const plain: V1Pod = {
        metadata: { name: 'plain', namespace: 'shop', labels: { app: 'web' } },
        spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] },
        status: { podIP: '10.1.0.5', conditions: [{ type: 'Ready', status: 'True' }] },
      };
      expect(backendCandidates(service('http'), 'http', [plain])).to.deep.equal([
        { pod: 'shop/plain', backend: { host: '10.1.0.5', port: 8080 }, readyUrl: undefined },
      ]);
    });

    it('skips a pod whose port the name does not resolve on', () => {
      expect(backendCandidates(service('grpc'), 'http', [injectedPod('a')])).to.deep.equal([]);
    });
  });
});
