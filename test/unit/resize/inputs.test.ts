// What the resize planner is given: the slim pod, the recommendation from the status, the
// resources an HPA holds, what the API server allows, the retry backoff, and the policy field.
import { expect } from 'chai';
import { DEFAULT_POLICY } from '../../../src/core/policy.ts';
import { requestBoundResources } from '../../../src/core/resize/autoscaler.ts';
import { retryDelayMs } from '../../../src/core/resize/backoff.ts';
import { resizeState } from '../../../src/core/resize/resize-state.ts';
import { allowsMemoryLimitDecrease } from '../../../src/core/resize/server-version.ts';
import { slimPod } from '../../../src/core/resize/slim-pod.ts';
import { targetsFrom } from '../../../src/core/resize/targets.ts';
import { accepted, rejected } from '../core/policy-texts.ts';
import { condition, NOW, recommended, runningPod, slim, statusOf } from './pods.ts';

describe('slimPod', () => {
  it('keeps what the planner and the repair need, quantities parsed', () => {
    const pod = runningPod({
      app: { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '128Mi' } },
      sidecar: { requests: { cpu: '10m', memory: '32Mi' } },
      resizePolicy: [
        { resourceName: 'memory', restartPolicy: 'RestartContainer' },
        { resourceName: 'cpu', restartPolicy: 'NotRequired' },
      ],
      generation: 3,
      observedGeneration: 2,
      qosClass: 'Burstable',
      conditions: [condition('PodResizePending', 'Deferred', 2, NOW - 1000, 'later'), { type: 'PodResizeInProgress', status: 'False' }],
    });
    pod.metadata!.annotations = { 'ebb.dev/injected': '{}' };
    const slimmed = slimPod(pod, 'shop/web');
    expect(slimmed).to.deep.include({
      namespace: 'shop',
      name: 'web-7d9f8-abcde',
      uid: 'uid-1',
      resourceVersion: '42',
      workload: 'shop/web',
      injected: true,
      ready: true,
      generation: 3,
      observedGeneration: 2,
      qosClass: 'Burstable',
      podLevelResources: false,
    });
    expect(slimmed.createdAt).to.equal(NOW - 3_600_000);
    expect(slimmed.containers).to.deep.equal([
      {
        name: 'app',
        kind: 'app',
        requests: { cpu: 250, memory: 64 * 2 ** 20 },
        limits: { memory: 128 * 2 ** 20 },
        restartOnResize: ['memory'],
        applied: { requests: { cpu: 250, memory: 64 * 2 ** 20 }, limits: { memory: 128 * 2 ** 20 } },
      },
      {
        name: 'ebb-interceptor',
        kind: 'sidecar',
        requests: { cpu: 10, memory: 32 * 2 ** 20 },
        limits: {},
        restartOnResize: [],
        applied: { requests: { cpu: 10, memory: 32 * 2 ** 20 }, limits: {} },
      },
    ]);
    // A condition that is not True is no condition.
    expect(slimmed.resizePending).to.deep.equal({ reason: 'Deferred', message: 'later', observedGeneration: 2, since: NOW - 1000 });
    expect(slimmed).to.not.have.property('resizeInProgress');
  });

  it('reads times written as text, as a watch delivers them', () => {
    const pod = runningPod({ conditions: [condition('PodResizePending', 'Deferred', 1)] });
    const asJson = JSON.parse(JSON.stringify(pod)) as typeof pod;
    expect(slimPod(asJson, undefined).resizePending?.since).to.equal(NOW);
    expect(slimPod(asJson, undefined).createdAt).to.equal(NOW - 3_600_000);
  });
});

describe('resizeState', () => {
  it('settled when the node applied the spec and nothing is pending', () => expect(resizeState(slim())).to.deep.equal({ kind: 'settled' }));
  it('unreported while an app container reports no applied resources (the API server then refuses a resize)', () =>
    expect(resizeState(slim({ applied: { app: null } }))).to.deep.equal({ kind: 'unreported' }));
  it('a sidecar that reports nothing does not hold the pod up', () => {
    expect(resizeState(slim({ sidecar: { requests: { cpu: '10m' } }, applied: { 'ebb-interceptor': null } }))).to.deep.equal({ kind: 'settled' });
  });
  it('in flight while the kubelet has not acknowledged the generation', () =>
    expect(resizeState(slim({ generation: 2, observedGeneration: 1 })).kind).to.equal('in-flight'));
  it('error, deferred, infeasible from the conditions of the current generation', () => {
    expect(resizeState(slim({ generation: 2, conditions: [condition('PodResizeInProgress', 'Error', 2, NOW, 'boom')] }))).to.deep.equal({
      kind: 'error',
      message: 'boom',
    });
    expect(resizeState(slim({ generation: 2, conditions: [condition('PodResizePending', 'Deferred', 2, NOW - 5, 'later')] }))).to.deep.equal({
      kind: 'deferred',
      since: NOW - 5,
      message: 'later',
    });
    expect(resizeState(slim({ generation: 2, conditions: [condition('PodResizePending', 'Infeasible', 2, NOW, 'too big')] }))).to.deep.equal({
      kind: 'infeasible',
      message: 'too big',
    });
  });
});

describe('targetsFrom', () => {
  it('reads targets, bounds and raiseOnly from the status form', () => {
    const targets = targetsFrom(
      statusOf({ app: recommended(['100m', '250m', '1'], ['64Mi', '128Mi', '1Gi'], true), side: recommended(['1m', '2m', '3m'], ['1Mi', '2Mi', '3Mi']) }),
    );
    expect(targets.get('app')).to.deep.equal({
      resources: { cpu: { target: 250, lower: 100, upper: 1000 }, memory: { target: 128 * 2 ** 20, lower: 64 * 2 ** 20, upper: 2 ** 30 } },
      raiseOnly: true,
    });
    expect(targets.get('side')?.raiseOnly).to.equal(false);
  });

  it('leaves out a container whose figures cannot be read', () => {
    const broken = { ...recommended(['100m', '250m', '1'], ['64Mi', '128Mi', '1Gi']), cpu: 'lots' };
    expect(targetsFrom(statusOf({ app: broken })).size).to.equal(0);
  });
});

describe('requestBoundResources', () => {
  it('utilization targets on CPU or memory, of the pod or of one container', () => {
    expect(
      requestBoundResources([
        { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 70 } } },
        { type: 'ContainerResource', containerResource: { container: 'app', name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
      ]),
    ).to.deep.equal(['cpu', 'memory']);
  });

  it('not an AverageValue target, nor a custom metric', () => {
    expect(
      requestBoundResources([
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '500m' } } },
        { type: 'Pods', pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '10' } } },
      ]),
    ).to.deep.equal([]);
  });

  it('an HPA without metrics scales on CPU utilization', () => {
    expect(requestBoundResources(undefined)).to.deep.equal(['cpu']);
    expect(requestBoundResources([])).to.deep.equal(['cpu']);
  });
});

describe('allowsMemoryLimitDecrease', () => {
  const cases: [string, string, boolean][] = [
    ['1', '33', false],
    ['1', '34', true],
    ['1', '35', true],
    ['1', '35+', true],
    ['2', '0', true],
    ['1', 'x', false],
  ];
  for (const [major, minor, allowed] of cases) it(`${major}.${minor}: ${allowed}`, () => expect(allowsMemoryLimitDecrease({ major, minor })).to.equal(allowed));
});

describe('retryDelayMs', () => {
  it('doubles from 30 s and stops at 10 min', () => {
    expect([1, 2, 3, 5, 6, 50].map(retryDelayMs)).to.deep.equal([30_000, 60_000, 120_000, 480_000, 600_000, 600_000]);
  });
});

describe('policy resize.deferredTimeout', () => {
  it('defaults to 5 minutes', () => expect(DEFAULT_POLICY.resize.deferredTimeoutMs).to.equal(300_000));

  it('takes a duration', () => {
    expect(accepted('resize: { deferredTimeout: 20s }').resize.deferredTimeoutMs).to.equal(20_000);
  });

  it('reports what is not accepted, with its path, like the other fields', () => {
    const accepted = 'expected a duration such as 250ms, 30s, 5m or 1h30m, from 1s to 24h';
    const messages = {
      'resize: { deferredTimeout: 300 }': `"300" is not accepted: ${accepted}`,
      'resize: { deferredTimeout: 2d }': 'expected a duration such as',
      'resize: { deferredTimeout: 25h }': `"25h" is not accepted: ${accepted}`,
      'resize: { deferedTimeout: 5m }': 'unknown field "deferedTimeout": known fields are deferredTimeout',
    };
    for (const [text, message] of Object.entries(messages)) expect(rejected(text)[0]!.message, text).to.include(message);
  });
});
