// Over random pods (Guaranteed, Burstable and BestEffort) and ResourceQuotas: the patch always
// applies, only adds, keeps the user's arrays, a second pass changes nothing, requests never exceed
// limits, the QoS class is the one the pod came with, the sidecar is always restricted, carries
// every limit a quota tracks, and is there only when the quotas have room for the pod with it.
import type { V1Container, V1ContainerPort, V1Pod, V1ResourceQuota, V1ResourceRequirements } from '@kubernetes/client-node';
import { expect } from 'chai';
import fc from 'fast-check';
import jsonpatch from 'jsonpatch';
import { mutatePod } from '../../../src/core/mutation.ts';
import { podAmounts, podContainers } from '../../../src/core/pod-resources.ts';
import { DEFAULT_POLICY } from '../../../src/core/policy.ts';
import { qosClass, type QosClass } from '../../../src/core/qos.ts';
import { parseCpu, parseMemory } from '../../../src/core/quantity.ts';
import { deploymentPod } from './pods.ts';

const port: fc.Arbitrary<V1ContainerPort> = fc.record(
  {
    name: fc.constantFrom('http', 'web', 'metrics', 'grpc', 'admin'),
    containerPort: fc.constantFrom(80, 8080, 9090, 18080, 18090, 3000),
    protocol: fc.constantFrom('TCP', 'UDP'),
  },
  { requiredKeys: ['containerPort'] },
);

/** A resource list of some of CPU and memory. */
const someOf = (cpu: number, memory: number, which: 'both' | 'cpu' | 'memory') => ({
  ...(which === 'memory' ? {} : { cpu: `${cpu}m` }),
  ...(which === 'cpu' ? {} : { memory: `${memory}Mi` }),
});

/**
 * A container's resources for a pod of the given class, as the API server hands them to the
 * webhook: requests ≤ limits, and a request defaulted to its limit where only the limit was written.
 */
const resourcesFor = (qos: QosClass): fc.Arbitrary<V1ResourceRequirements | undefined> => {
  const amounts = fc.record({ cpu: fc.integer({ min: 1, max: 4000 }), memory: fc.integer({ min: 1, max: 4096 }) });
  if (qos === 'BestEffort') return fc.constant(undefined);
  if (qos === 'Guaranteed') return amounts.map(({ cpu, memory }) => ({ requests: someOf(cpu, memory, 'both'), limits: someOf(cpu, memory, 'both') }));
  const which = fc.constantFrom<'both' | 'cpu' | 'memory'>('both', 'cpu', 'memory');
  return fc.option(
    fc
      .record({
        amounts,
        requested: fc.option(which, { nil: undefined }),
        limited: fc.option(which, { nil: undefined }),
        headroom: fc.integer({ min: 1, max: 3 }),
      })
      .map(({ amounts: { cpu, memory }, requested, limited, headroom }) => {
        const limits = limited && someOf(cpu * headroom, memory * headroom, limited);
        const requests = { ...limits, ...(requested && someOf(cpu, memory, requested)) };
        return { ...(Object.keys(requests).length > 0 ? { requests } : {}), ...(limits ? { limits } : {}) };
      }),
    { nil: undefined },
  );
};

const container = (index: number, qos: QosClass): fc.Arbitrary<V1Container> =>
  fc.record({ ports: fc.option(fc.array(port, { maxLength: 3 }), { nil: undefined }), resources: resourcesFor(qos) }).map(({ ports, resources }) => ({
    name: `c${index}`,
    image: 'example/app:1',
    ...(ports ? { ports } : {}),
    ...(resources ? { resources } : {}),
  }));

const annotationValue = fc.constantFrom<string>(
  '1',
  '0',
  '-1',
  'true',
  'false',
  '5m',
  'soon',
  'auto',
  'off',
  '250m',
  '1Gi',
  'http',
  '8080',
  'Mon-Fri 08:00-19:00 Europe/Berlin',
  '',
);
const annotations = fc.option(
  fc.dictionary(
    fc.constantFrom(
      'ebb.dev/min-replicas',
      'ebb.dev/max-replicas',
      'ebb.dev/idle-after',
      'ebb.dev/resize',
      'ebb.dev/cpu-max',
      'ebb.dev/memory-min',
      'ebb.dev/port',
      'ebb.dev/keep-warm',
      'ebb.dev/typo',
      'team',
    ),
    annotationValue,
  ),
  { nil: undefined },
);

/** Port names unique within the pod, as a Service needs them to be. */
function uniquePortNames(containers: V1Container[]): V1Container[] {
  const seen = new Set<string>();
  return containers.map((c) => ({
    ...c,
    ...(c.ports
      ? {
          ports: c.ports
            .map((p) => (p.name && !seen.has(p.name) && seen.add(p.name) ? p : { ...p, name: undefined }))
            .map(({ name, ...rest }) => (name ? { name, ...rest } : rest)),
        }
      : {}),
  }));
}

/** A Guaranteed pod whose first container asks for less than its limits: Burstable, one request away from Guaranteed. */
const lowered = (containers: V1Container[], almost: boolean): V1Container[] => {
  if (!almost) return containers;
  const [first, ...rest] = containers as [V1Container, ...V1Container[]];
  const half = (list: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(list).map(([name, quantity]) => [name, `${Math.max(1, Math.floor(parseInt(quantity, 10) / 2))}${quantity.replace(/^\d+/, '')}`]),
    );
  return [{ ...first, resources: { ...first.resources, requests: half(first.resources!.limits!) } }, ...rest];
};

/** Pods of every class (a random Burstable shape may come out of any class: it is kept too). */
const pods: fc.Arbitrary<V1Pod> = fc
  .constantFrom('Guaranteed', 'Burstable', 'BestEffort', 'almost Guaranteed')
  .chain((shape) => {
    const qos: QosClass = shape === 'almost Guaranteed' ? 'Guaranteed' : shape;
    return fc.record({
      containers: fc.integer({ min: 1, max: 3 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => container(index, qos)))),
      initContainers: fc.option(
        resourcesFor(qos).map((resources) => [{ name: 'init', image: 'example/init:1', ...(resources ? { resources } : {}) }]),
        { nil: undefined },
      ),
      annotations,
      almost: fc.constant(shape === 'almost Guaranteed'),
    });
  })
  .map(({ containers, initContainers, annotations, almost }) =>
    deploymentPod({
      containers: uniquePortNames(lowered(containers, almost)),
      ...(initContainers ? { initContainers } : {}),
      ...(annotations ? { annotations } : {}),
    }),
  );

const TRACKED = ['requests.cpu', 'limits.cpu', 'requests.memory', 'limits.memory'] as const;
const quotas: fc.Arbitrary<V1ResourceQuota[]> = fc.array(
  fc
    .record({ tracked: fc.constantFrom(...TRACKED), hard: fc.integer({ min: 0, max: 8000 }), usedPercent: fc.integer({ min: 0, max: 100 }) })
    .map(({ tracked, hard, usedPercent }) => {
      const unit = tracked.endsWith('cpu') ? 'm' : 'Mi';
      const amounts = { [tracked]: `${hard}${unit}` };
      return {
        metadata: { name: `q-${tracked}` },
        spec: { hard: amounts },
        status: { hard: amounts, used: { [tracked]: `${Math.floor((hard * usedPercent) / 100)}${unit}` } },
      };
    }),
  { maxLength: 2 },
);

const recommendation = fc.option(
  fc.record({ c0: fc.record({ cpuMillis: fc.integer({ min: 1, max: 8000 }), memoryBytes: fc.integer({ min: 1, max: 2 ** 33 }) }) }),
  { nil: undefined },
);

const amount = (parse: typeof parseCpu, quantity: unknown) => {
  const parsed = parse(String(quantity));
  return parsed.ok ? parsed.value : NaN;
};

describe('mutatePod over random pods', () => {
  it('yields a patch that applies, only adds, is idempotent, respects limits and quotas, keeps the QoS class, and a restricted sidecar', () => {
    fc.assert(
      fc.property(pods, recommendation, quotas, (pod, recommended, resourceQuotas) => {
        const input = {
          namespace: { name: 'shop', labels: { 'ebb.dev/injection': 'enabled' } },
          deployment: { name: 'web' },
          policy: DEFAULT_POLICY,
          ebbNamespace: 'ebb-system',
          recommendation: recommended,
          resourceQuotas,
        };
        const original = structuredClone(pod);
        const result = mutatePod({ ...input, pod });
        expect(result.injected).to.equal(true);
        expect(result.patch.every((operation) => operation.op === 'add')).to.equal(true);
        const patched = jsonpatch.apply_patch(structuredClone(pod), result.patch);
        expect(pod, 'the input is not modified').to.deep.equal(original);

        expect(mutatePod({ ...input, pod: patched }).patch).to.deep.equal([]);

        expect(patched.spec!.containers.map((c) => c.ports?.length)).to.deep.equal(original.spec!.containers.map((c) => c.ports?.length));
        expect((patched.spec!.initContainers ?? []).slice(0, original.spec!.initContainers?.length ?? 0)).to.deep.equal(original.spec!.initContainers ?? []);
        const qos = qosClass(original.spec);
        expect(qosClass(patched.spec), 'the QoS class').to.equal(qos);
        for (const c of patched.spec!.containers) {
          if (qos === 'Burstable') expect(c.resources?.requests?.cpu, 'every container of a Burstable pod has a CPU request').to.not.equal(undefined);
          for (const [resource, parse] of [
            ['cpu', parseCpu],
            ['memory', parseMemory],
          ] as const) {
            const limit = c.resources?.limits?.[resource];
            if (limit !== undefined) expect(amount(parse, c.resources!.requests![resource])).to.be.at.most(amount(parse, limit));
          }
        }

        const sidecar = patched.spec!.initContainers?.find((c) => c.name === 'ebb-interceptor');
        const record = JSON.parse(patched.metadata!.annotations!['ebb.dev/injected']!) as { sidecar: string };
        if (sidecar) expect(record.sidecar).to.equal('injected');
        else expect(record.sidecar).to.match(/^none: /);
        const usage = podAmounts(podContainers(patched.spec));
        for (const quota of resourceQuotas) {
          const [tracked, hard] = Object.entries(quota.status!.hard!)[0]!;
          const [side, resource] = tracked.split('.') as ['requests' | 'limits', 'cpu' | 'memory'];
          const parse = resource === 'cpu' ? parseCpu : parseMemory;
          const room = amount(parse, hard) - amount(parse, quota.status!.used![tracked]);
          if (sidecar) expect(usage[side][resource] ?? 0, `${tracked}: the pod with its sidecar fits the quota`).to.be.at.most(room);
          if (sidecar && side === 'limits' && qos !== 'BestEffort')
            expect(sidecar.resources?.limits?.[resource], `the sidecar carries ${tracked}`).to.not.equal(undefined);
        }
        if (!hasTcpPort(original)) expect(sidecar).to.equal(undefined);
        if (sidecar) {
          expect(sidecar.restartPolicy).to.equal('Always');
          expect(sidecar.securityContext).to.deep.include({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
          expect(sidecar.securityContext!.runAsUser).to.be.above(0);
          expect(sidecar.securityContext!.capabilities).to.deep.equal({ drop: ['ALL'] });
          expect(sidecar.securityContext!.seccompProfile).to.deep.equal({ type: 'RuntimeDefault' });
          const cpuLimitDemanded = qos === 'Guaranteed' || resourceQuotas.some((quota) => quota.status!.hard!['limits.cpu'] !== undefined);
          if (!cpuLimitDemanded) expect(sidecar.resources?.limits?.cpu, 'no CPU limit unless the class or a quota needs one').to.equal(undefined);
          if (qos === 'BestEffort') expect(sidecar.resources).to.equal(undefined);
          const numbers = [...patched.spec!.containers, sidecar].flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
          expect(new Set(numbers).size, 'the sidecar ports collide with no app port').to.equal(numbers.length - duplicates(original));
        }
      }),
      { numRuns: 200 },
    );
  });
});

const hasTcpPort = (pod: V1Pod) => pod.spec!.containers.some((c) => (c.ports ?? []).some((p) => (p.protocol ?? 'TCP') === 'TCP'));

/** Port numbers the app itself declares twice (e.g. TCP and UDP on one number). */
function duplicates(pod: V1Pod): number {
  const numbers = pod.spec!.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
  return numbers.length - new Set(numbers).size;
}
