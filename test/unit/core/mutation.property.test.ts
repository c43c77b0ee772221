// Over random pods: the patch always applies, only adds, keeps the user's arrays, a second pass
// changes nothing, requests never exceed limits, and the sidecar is always restricted.
import type { V1Container, V1ContainerPort, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import fc from 'fast-check';
import jsonpatch from 'jsonpatch';
import { mutatePod } from '../../../src/core/mutation.ts';
import { DEFAULT_POLICY } from '../../../src/core/policy.ts';
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

/** requests ≤ limits, as the API server requires of what it admits. */
const resources = fc.option(
  fc.record({ cpu: fc.integer({ min: 1, max: 4000 }), memory: fc.integer({ min: 1, max: 4096 }), hasLimit: fc.boolean(), hasRequest: fc.boolean() })
    .map(({ cpu, memory, hasLimit, hasRequest }) => ({
      ...(hasRequest ? { requests: { cpu: `${cpu}m`, memory: `${memory}Mi` } } : {}),
      ...(hasLimit ? { limits: { cpu: `${cpu * 2}m`, memory: `${memory * 2}Mi` } } : {}),
    })),
  { nil: undefined },
);

const container = (index: number): fc.Arbitrary<V1Container> =>
  fc.record({ ports: fc.option(fc.array(port, { maxLength: 3 }), { nil: undefined }), resources }).map(({ ports, resources }) => ({
    name: `c${index}`,
    image: 'example/app:1',
    ...(ports ? { ports } : {}),
    ...(resources ? { resources } : {}),
  }));

const annotationValue = fc.constantFrom<string>('1', '0', '-1', 'true', 'false', '5m', 'soon', 'auto', 'off', '250m', '1Gi', 'http', '8080', 'Mon-Fri 08:00-19:00 Europe/Berlin', '');
const annotations = fc.option(
  fc.dictionary(fc.constantFrom('ebb.dev/min-replicas', 'ebb.dev/max-replicas', 'ebb.dev/idle-after', 'ebb.dev/resize', 'ebb.dev/cpu-max', 'ebb.dev/memory-min', 'ebb.dev/port', 'ebb.dev/keep-warm', 'ebb.dev/typo', 'team'), annotationValue),
  { nil: undefined },
);

/** Port names unique within the pod, as a Service needs them to be. */
function uniquePortNames(containers: V1Container[]): V1Container[] {
  const seen = new Set<string>();
  return containers.map((c) => ({
    ...c,
    ...(c.ports ? { ports: c.ports.map((p) => (p.name && !seen.has(p.name) && seen.add(p.name) ? p : { ...p, name: undefined })).map(({ name, ...rest }) => (name ? { name, ...rest } : rest)) } : {}),
  }));
}

const pods: fc.Arbitrary<V1Pod> = fc.record({
  containers: fc.integer({ min: 1, max: 3 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => container(index)))),
  initContainers: fc.option(fc.constant<V1Container[]>([{ name: 'init', image: 'example/init:1' }]), { nil: undefined }),
  annotations,
}).map(({ containers, initContainers, annotations }) => deploymentPod({
  containers: uniquePortNames(containers),
  ...(initContainers ? { initContainers } : {}),
  ...(annotations ? { annotations } : {}),
}));

const recommendation = fc.option(fc.record({ c0: fc.record({ cpuMillis: fc.integer({ min: 1, max: 8000 }), memoryBytes: fc.integer({ min: 1, max: 2 ** 33 }) }) }), { nil: undefined });

const amount = (parse: typeof parseCpu, quantity: unknown) => {
  const parsed = parse(String(quantity));
  return parsed.ok ? parsed.value : NaN;
};

describe('mutatePod over random pods', () => {
  it('yields a patch that applies, only adds, is idempotent, respects limits, and a restricted sidecar', () => {
    fc.assert(
      fc.property(pods, recommendation, (pod, recommended) => {
        const input = { namespace: { name: 'shop', labels: { 'ebb.dev/injection': 'enabled' } }, deployment: { name: 'web' }, policy: DEFAULT_POLICY, ebbNamespace: 'ebb-system', recommendation: recommended };
        const original = structuredClone(pod);
        const result = mutatePod({ ...input, pod });
        expect(result.injected).to.equal(true);
        expect(result.patch.every((operation) => operation.op === 'add')).to.equal(true);
        const patched = jsonpatch.apply_patch(structuredClone(pod), result.patch);
        expect(pod, 'the input is not modified').to.deep.equal(original);

        expect(mutatePod({ ...input, pod: patched }).patch).to.deep.equal([]);

        expect(patched.spec!.containers.map((c) => c.ports?.length)).to.deep.equal(original.spec!.containers.map((c) => c.ports?.length));
        expect((patched.spec!.initContainers ?? []).slice(0, original.spec!.initContainers?.length ?? 0)).to.deep.equal(original.spec!.initContainers ?? []);
        for (const c of patched.spec!.containers) {
          expect(c.resources?.requests?.cpu, 'every container has a CPU request').to.not.equal(undefined);
          for (const [resource, parse] of [['cpu', parseCpu], ['memory', parseMemory]] as const) {
            const limit = c.resources?.limits?.[resource];
            if (limit !== undefined) expect(amount(parse, c.resources!.requests![resource])).to.be.at.most(amount(parse, limit));
          }
        }

        const sidecar = patched.spec!.initContainers?.find((c) => c.name === 'ebb-interceptor');
        const record = JSON.parse(patched.metadata!.annotations!['ebb.dev/injected']!) as { sidecar: string };
        if (sidecar) expect(record.sidecar).to.equal('injected');
        else expect(record.sidecar).to.match(/^none: /);
        const hasTcpPort = original.spec!.containers.some((c) => (c.ports ?? []).some((p) => (p.protocol ?? 'TCP') === 'TCP'));
        if (!hasTcpPort) expect(sidecar).to.equal(undefined);
        if (sidecar) {
          expect(sidecar.restartPolicy).to.equal('Always');
          expect(sidecar.securityContext).to.deep.include({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
          expect(sidecar.securityContext!.runAsUser).to.be.above(0);
          expect(sidecar.securityContext!.capabilities).to.deep.equal({ drop: ['ALL'] });
          expect(sidecar.securityContext!.seccompProfile).to.deep.equal({ type: 'RuntimeDefault' });
          expect(sidecar.resources!.limits?.cpu).to.equal(undefined);
          const numbers = [...patched.spec!.containers, sidecar].flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
          expect(new Set(numbers).size, 'the sidecar ports collide with no app port').to.equal(numbers.length - duplicates(original));
        }
      }),
      { numRuns: 200 },
    );
  });
});

/** Port numbers the app itself declares twice (e.g. TCP and UDP on one number). */
function duplicates(pod: V1Pod): number {
  const numbers = pod.spec!.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
  return numbers.length - new Set(numbers).size;
}
