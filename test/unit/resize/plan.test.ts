// The in-place resize planner, rule by rule (KEP-1287 as of Kubernetes 1.35, and ebb's own).
import { expect } from 'chai';
import type { ResourceName } from '../../../src/core/pod-resources.ts';
import { planResize, type ResizeDecision, type ResizeInput, type RunningPodMode } from '../../../src/core/resize/plan.ts';
import { targetsFrom } from '../../../src/core/resize/targets.ts';
import { condition, NOW, recommended, slim, statusOf, type PodShape } from './pods.ts';

const MINUTE = 60_000;
// Target 450m / 330Mi, bounds 350m–900m / 300Mi–600Mi.
const APP = recommended(['350m', '450m', '900m'], ['300Mi', '330Mi', '600Mi']);

function plan(shape: PodShape, options: Partial<Omit<ResizeInput, 'pod'>> & { app?: typeof APP } = {}): ResizeDecision {
  return planResize({
    pod: slim(shape),
    targets: targetsFrom(statusOf({ app: options.app ?? APP })),
    mode: 'in-place',
    tolerance: 0.1,
    held: new Set<ResourceName>(),
    memoryLimitDecrease: true,
    deferredTimeoutMs: 5 * MINUTE,
    now: NOW,
    ...options,
  });
}

function resized(decision: ResizeDecision) {
  if (decision.action !== 'resize') throw new Error(`expected a resize, got ${JSON.stringify(decision)}`);
  return decision;
}

const requests = (cpu: string, memory: string) => ({ requests: { cpu, memory } });
const both = (cpu: string, memory: string) => ({ requests: { cpu, memory }, limits: { cpu, memory } });

describe('planResize: which pods', () => {
  it('leaves a pod that is not Running', () => expect(plan({ phase: 'Pending' }).action).to.equal('none'));

  it('leaves a terminating pod', () => {
    const pod = slim();
    expect(planResize({ ...baseInput(), pod: { ...pod, deleting: true } }).action).to.equal('none');
  });

  it('leaves a BestEffort pod alone, whatever the mode', () => {
    for (const mode of ['in-place', 'auto', 'evict'] as RunningPodMode[]) {
      const decision = plan({ app: {}, qosClass: 'BestEffort' }, { mode });
      expect(decision.action, mode).to.equal('none');
      expect(decision.why).to.include('BestEffort');
    }
  });

  it('leaves a pod with pod-level resources', () => {
    const pod = slim();
    expect(planResize({ ...baseInput(), pod: { ...pod, podLevelResources: true } }).why).to.include('pod-level');
  });

  it('does not resize a pod whose node reports no applied resources (the API server would refuse); auto offers it for eviction', () => {
    const shape = { applied: { app: null } };
    expect(plan(shape).action).to.equal('none');
    expect(plan(shape, { mode: 'auto' })).to.include({ action: 'evict' });
  });
});

describe('planResize: when a request changes', () => {
  it('raises a request below the lower bound to the target', () => {
    const decision = resized(plan({ app: requests('100m', '64Mi') }));
    expect(decision.containers).to.deep.equal([{ name: 'app', kind: 'app', requests: { cpu: 450, memory: 330 * 2 ** 20 }, limits: {} }]);
    expect(decision.why).to.equal('app: cpu request 100m → 450m (below the lower bound 350m); app: memory request 64Mi → 330Mi (below the lower bound 300Mi)');
  });

  it('lowers a request above the upper bound to the target', () => {
    const decision = resized(plan({ app: requests('2', '330Mi') }));
    expect(decision.changes).to.deep.equal([{ container: 'app', resource: 'cpu', request: { from: 2000, to: 450 }, why: 'above the upper bound 900m' }]);
  });

  it('changes a request within the bounds only when it is further than the tolerance from the target', () => {
    expect(plan({ app: requests('420m', '330Mi') }).action, '7 % off').to.equal('none');
    expect(resized(plan({ app: requests('400m', '330Mi') })).changes[0]).to.include({ why: '13 % off the target 450m' });
    expect(plan({ app: requests('400m', '330Mi') }, { tolerance: 0.2 }).action, 'within a 20 % tolerance').to.equal('none');
  });

  it('with a raise-only recommendation, raises but never lowers', () => {
    const raiseOnly = recommended(['350m', '450m', '900m'], ['300Mi', '330Mi', '600Mi'], true);
    expect(plan({ app: requests('2', '330Mi') }, { app: raiseOnly }).action).to.equal('none');
    expect(resized(plan({ app: requests('100m', '330Mi') }, { app: raiseOnly })).changes.map((c) => c.resource)).to.deep.equal(['cpu']);
  });

  it('adds a request a container lacks (a Burstable pod stays Burstable)', () => {
    const decision = resized(plan({ app: { requests: { memory: '330Mi' } } }));
    expect(decision.changes).to.deep.equal([{ container: 'app', resource: 'cpu', request: { to: 450 }, why: 'no request' }]);
  });

  it('leaves a container without a recommendation alone', () => {
    const decision = resized(plan({ app: requests('100m', '330Mi'), others: { worker: requests('1m', '1Mi') } }));
    expect(decision.containers.map((c) => c.name)).to.deep.equal(['app']);
  });

  it('resizes a native sidecar that has a recommendation', () => {
    const decision = planResize({
      ...baseInput(),
      pod: slim({ app: requests('450m', '330Mi'), sidecar: requests('10m', '32Mi') }),
      targets: targetsFrom(statusOf({ app: APP, 'ebb-interceptor': recommended(['20m', '25m', '50m'], ['32Mi', '40Mi', '64Mi']) })),
    });
    expect(resized(decision).containers).to.deep.equal([{ name: 'ebb-interceptor', kind: 'sidecar', requests: { cpu: 25, memory: 40 * 2 ** 20 }, limits: {} }]);
  });

  it('leaves the resources an HPA scales on (their utilization is relative to the requests)', () => {
    expect(resized(plan({ app: requests('100m', '64Mi') }, { held: new Set(['cpu']) })).changes.map((c) => c.resource)).to.deep.equal(['memory']);
    expect(plan({ app: requests('100m', '330Mi') }, { held: new Set(['cpu']) }).action).to.equal('none');
  });

  it('puts pods that need more first', () => {
    const raise = resized(plan({ app: requests('100m', '330Mi') }));
    const lower = resized(plan({ app: requests('2', '330Mi') }));
    expect(raise.priority).to.equal(4.5);
    expect(lower.priority).to.be.below(1);
  });
});

describe('planResize: limits', () => {
  it('never adds a CPU limit where there was none', () => {
    expect(resized(plan({ app: { requests: { cpu: '100m', memory: '330Mi' }, limits: { memory: '600Mi' } } })).containers[0]!.limits).to.deep.equal({});
  });

  it('scales an existing CPU limit with the request, keeping the ratio (so it stays above the request)', () => {
    const decision = resized(plan({ app: { requests: { cpu: '100m', memory: '330Mi' }, limits: { cpu: '300m' } } }));
    expect(decision.changes[0]).to.deep.include({ request: { from: 100, to: 450 }, limit: { from: 300, to: 1350 } });
  });

  it('never leaves a memory limit below the upper bound, even when the request stays', () => {
    const decision = resized(plan({ app: { requests: { cpu: '450m', memory: '320Mi' }, limits: { memory: '400Mi' } } }));
    expect(decision.changes).to.deep.equal([
      { container: 'app', resource: 'memory', limit: { from: 400 * 2 ** 20, to: 600 * 2 ** 20 }, why: 'memory limit below the upper bound 600Mi' },
    ]);
    expect(decision.containers[0]).to.deep.include({ requests: {}, limits: { memory: 600 * 2 ** 20 } });
  });

  it('scales a memory limit with its request, but not below the upper bound', () => {
    const lowered = resized(plan({ app: { requests: { cpu: '450m', memory: '1Gi' }, limits: { memory: '1200Mi' } } }));
    expect(lowered.changes[0]).to.deep.include({ request: { from: 2 ** 30, to: 330 * 2 ** 20 }, limit: { from: 1200 * 2 ** 20, to: 600 * 2 ** 20 } });
  });

  it('keeps a memory limit where the API server refuses to lower one (before 1.34), and lowers it where it allows', () => {
    const shape = { app: { requests: { cpu: '450m', memory: '1Gi' }, limits: { memory: '4Gi' } } };
    expect(resized(plan(shape, { memoryLimitDecrease: false })).changes[0]).to.not.have.property('limit');
    expect(resized(plan(shape)).changes[0]).to.deep.include({ limit: { from: 4 * 2 ** 30, to: 1320 * 2 ** 20 } });
  });
});

describe('planResize: QoS class', () => {
  const guaranteed: PodShape = { app: both('100m', '64Mi'), qosClass: 'Guaranteed' };

  it("moves a Guaranteed pod's requests and limits together, memory to the upper bound (its request is its limit)", () => {
    const decision = resized(plan(guaranteed));
    expect(decision.containers).to.deep.equal([
      { name: 'app', kind: 'app', requests: { cpu: 450, memory: 600 * 2 ** 20 }, limits: { cpu: 450, memory: 600 * 2 ** 20 } },
    ]);
  });

  it('a Guaranteed pod whose memory must come down where the API server refuses lower limits: CPU in place, memory left (a replacement would keep it too)', () => {
    const shape = { app: both('100m', '1Gi'), qosClass: 'Guaranteed' };
    for (const mode of ['in-place', 'auto'] as RunningPodMode[]) {
      const decision = resized(plan(shape, { memoryLimitDecrease: false, mode }));
      expect(
        decision.changes.map((c) => c.resource),
        mode,
      ).to.deep.equal(['cpu']);
      expect(decision.why).to.include('left as is: container app: this API server refuses to lower a memory limit');
    }
  });

  it('a Burstable pod whose memory limit cannot come down in place is offered for eviction in auto', () => {
    const shape = {
      app: { requests: { cpu: '450m', memory: '1Gi' }, limits: { memory: '4Gi' } },
      resizePolicy: [{ resourceName: 'memory', restartPolicy: 'RestartContainer' }],
    };
    expect(plan(shape, { mode: 'auto' })).to.include({ action: 'evict' });
  });

  it('never writes a resize that would change the class (the API server refuses it)', () => {
    // The kubelet says Burstable, yet the planned amounts would make every request its limit.
    const tight = recommended(['300m', '450m', '900m'], ['300Mi', '600Mi', '600Mi']);
    const shape: PodShape = { app: { requests: { cpu: '450m', memory: '64Mi' }, limits: { cpu: '450m', memory: '64Mi' } }, qosClass: 'Burstable' };
    expect(plan(shape, { app: tight })).to.deep.include({ action: 'report', reason: 'ResizeInfeasible' });
    expect(plan(shape, { app: tight }).why).to.include('would become Guaranteed');
    // Nor is it offered for eviction: the webhook keeps a request equal to its limit in a replacement.
    expect(plan(shape, { app: tight, mode: 'auto' })).to.deep.include({ action: 'report', reason: 'ResizeInfeasible' });
  });
});

describe('planResize: resizePolicy', () => {
  const restartOnMemory: PodShape = { app: requests('100m', '64Mi'), resizePolicy: [{ resourceName: 'memory', restartPolicy: 'RestartContainer' }] };

  it('a resource whose resize restarts the container is a disruption: auto offers the pod for eviction', () => {
    const decision = plan(restartOnMemory, { mode: 'auto' });
    expect(decision).to.include({ action: 'evict' });
    expect(decision.why).to.include('container app restarts to resize memory (resizePolicy RestartContainer)');
  });

  it('in-place resizes what it may and leaves the rest', () => {
    const decision = resized(plan(restartOnMemory));
    expect(decision.changes.map((c) => c.resource)).to.deep.equal(['cpu']);
  });

  it('in-place reports a pod it cannot resize at all', () => {
    const decision = plan({ ...restartOnMemory, app: requests('450m', '64Mi') });
    expect(decision).to.deep.include({ action: 'report', reason: 'ResizeInfeasible' });
  });

  it('NotRequired is a resize like any other', () => {
    expect(plan({ ...restartOnMemory, resizePolicy: [{ resourceName: 'memory', restartPolicy: 'NotRequired' }] }).action).to.equal('resize');
  });
});

describe('planResize: a resize on its way', () => {
  const wanted = requests('450m', '330Mi');

  it('writes nothing while the kubelet has not seen the latest spec (metadata.generation ahead of status.observedGeneration)', () => {
    expect(plan({ app: requests('100m', '64Mi'), generation: 2, observedGeneration: 1 })).to.deep.include({ action: 'wait', state: 'in-flight' });
  });

  it('writes nothing while PodResizeInProgress stands, or while the applied resources differ from the spec', () => {
    expect(plan({ app: wanted, generation: 2, conditions: [condition('PodResizeInProgress', undefined, 2)] })).to.deep.include({
      action: 'wait',
      state: 'in-flight',
    });
    expect(plan({ app: requests('100m', '64Mi'), applied: { app: requests('90m', '64Mi') } })).to.deep.include({ action: 'wait', state: 'in-flight' });
  });

  it("takes the kubelet's rounding of what it applied as applied", () => {
    expect(plan({ app: wanted, applied: { app: requests('452m', '330Mi') } }).action).to.equal('none');
  });

  it('a condition about an older generation says nothing about the current spec', () => {
    const stale = { app: wanted, generation: 3, observedGeneration: 3, conditions: [condition('PodResizePending', 'Infeasible', 2)] };
    expect(plan(stale, { mode: 'auto' })).to.deep.include({ action: 'wait', state: 'in-flight' });
  });

  it('Infeasible: auto offers the pod for eviction, in-place reports it', () => {
    const shape = {
      app: wanted,
      generation: 2,
      conditions: [condition('PodResizePending', 'Infeasible', 2, NOW, "Node didn't have enough capacity: cpu, requested: 40000, capacity: 32000")],
    };
    expect(plan(shape, { mode: 'auto' })).to.deep.include({
      action: 'evict',
      reason: 'ResizeInfeasible',
      why: "the node cannot fit the resize: Node didn't have enough capacity: cpu, requested: 40000, capacity: 32000",
    });
    expect(plan(shape)).to.deep.include({ action: 'report', reason: 'ResizeInfeasible' });
  });

  it("Deferred: waits until the policy's timeout, then auto offers the pod for eviction and in-place reports it", () => {
    const deferred = (since: number) => ({
      app: wanted,
      generation: 2,
      conditions: [condition('PodResizePending', 'Deferred', 2, since, "Node didn't have enough resource: memory")],
    });
    expect(plan(deferred(NOW - 4 * MINUTE))).to.deep.include({ action: 'wait', state: 'deferred' });
    expect(plan(deferred(NOW - 5 * MINUTE), { mode: 'auto' })).to.deep.include({
      action: 'evict',
      reason: 'ResizeDeferred',
      why: "the node has deferred the resize for 300 s: Node didn't have enough resource: memory",
    });
    expect(plan(deferred(NOW - 5 * MINUTE))).to.deep.include({ action: 'report', reason: 'ResizeDeferred' });
    expect(plan(deferred(NOW - 30_000), { deferredTimeoutMs: 20_000 })).to.deep.include({ action: 'report', reason: 'ResizeDeferred' });
  });

  it('Error: held back during the backoff, then planned again, never taken for infeasible', () => {
    const error = (app = wanted) => ({
      app,
      generation: 2,
      applied: { app: requests('100m', '64Mi') },
      conditions: [condition('PodResizeInProgress', 'Error', 2, NOW, 'cannot decrease memory limits')],
    });
    expect(plan(error(), { retryAt: NOW + 1, mode: 'auto' })).to.deep.include({ action: 'wait', state: 'backoff' });
    // Past the backoff, the spec is what the recommendation wants: the kubelet's own retries continue.
    expect(plan(error(), { retryAt: NOW, mode: 'auto' })).to.deep.include({ action: 'wait', state: 'error' });
    // The recommendation moved: a new resize is written.
    expect(plan(error(requests('200m', '330Mi')), { retryAt: NOW, mode: 'auto' }).action).to.equal('resize');
  });

  it('a refused write is held back during its backoff', () => {
    expect(plan({ app: requests('100m', '64Mi') }, { retryAt: NOW + MINUTE })).to.deep.include({ action: 'wait', state: 'backoff' });
    expect(plan({ app: requests('100m', '64Mi') }, { retryAt: NOW }).action).to.equal('resize');
  });
});

describe('planResize: mode evict', () => {
  it('offers a pod that needs a change for eviction (the webhook sizes its replacement), with the change as the reason', () => {
    const decision = plan({ app: requests('100m', '64Mi') }, { mode: 'evict' });
    expect(decision).to.deep.include({ action: 'evict', priority: 330 / 64 });
    expect(decision.why).to.include('app: cpu request 100m → 450m');
  });

  it('leaves a pod within the recommendation', () => expect(plan({ app: requests('450m', '330Mi') }, { mode: 'evict' }).action).to.equal('none'));

  it('offers only what a replacement would change: the webhook keeps a request equal to its limit', () => {
    const guaranteed = plan({ app: both('100m', '64Mi'), qosClass: 'Guaranteed' }, { mode: 'evict' });
    expect(guaranteed.action).to.equal('none');
    expect(guaranteed.why).to.include('only an in-place resize changes it');
    const cpuPinned = plan({ app: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m' } } }, { mode: 'evict' });
    expect(cpuPinned).to.deep.include({ action: 'evict', why: 'app: memory request 64Mi → 330Mi (below the lower bound 300Mi)' });
  });
});

function baseInput(): ResizeInput {
  return {
    pod: slim(),
    targets: targetsFrom(statusOf({ app: APP })),
    mode: 'in-place',
    tolerance: 0.1,
    held: new Set(),
    memoryLimitDecrease: true,
    deferredTimeoutMs: 5 * MINUTE,
    now: NOW,
  };
}
