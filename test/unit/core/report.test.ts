import { expect } from 'chai';
import { DEFAULT_POLICY } from '../../../src/core/policy.ts';
import { agentsLine, exitCodeOf, expiryLine, leaderLine } from '../../../src/core/report/check.ts';
import { invalidValues, recentDecisions, settingLines } from '../../../src/core/report/explain.ts';
import { pendingLines, totalSaved, workloadStatus, type WorkloadFacts } from '../../../src/core/report/workload-status.ts';
import { readStatus } from '../../../src/core/status.ts';
import { resolveWorkload } from '../../../src/core/workload-settings.ts';

const MI = 2 ** 20;
const now = Date.parse('2026-12-01T12:00:00Z');

function facts(overrides: Partial<WorkloadFacts> = {}): WorkloadFacts {
  return {
    namespace: 'shop',
    name: 'web',
    resize: 'in-place',
    replicas: { spec: 3, actual: 3, ready: 2 },
    status: readStatus(
      JSON.stringify({
        desiredReplicas: 3,
        reason: 'steady',
        message: 'holding 3: 25 in flight, target 10 per pod',
        inFlight: 25,
        lastRequestAt: '2026-12-01T11:59:58.000Z',
        updatedAt: '2026-12-01T11:59:30.000Z',
        traffic: 'observed',
        pending: ['pod shop/web-1 waits for its resize'],
        recommendation: { containers: { app: { cpu: '250m', memory: '256Mi', lower: {}, upper: {}, confidence: 1 } } },
      }),
    ),
    containers: [{ name: 'app', requests: { cpu: 1000, memory: 1024 * MI } }],
    defaultRequests: DEFAULT_POLICY.defaultRequests,
    ...overrides,
  };
}

describe('kubectl ebb status, derived', () => {
  it("shows the decision, the load, and each container's requests against the recommendation", () => {
    const status = workloadStatus(facts());
    expect(status).to.deep.include({
      replicas: { desired: 3, actual: 3, ready: 2 },
      inFlight: 25,
      reason: 'steady',
      traffic: 'observed',
      lastRequestAt: '2026-12-01T11:59:58.000Z',
    });
    expect(status.containers).to.deep.equal([{ name: 'app', requests: { cpu: 1000, memory: 1024 * MI }, recommendation: { cpu: 250, memory: 256 * MI } }]);
  });

  it('counts what was saved per running pod: requested before less recommended', () => {
    expect(workloadStatus(facts()).saved).to.deep.equal({ cpu: 3 * 750, memory: 3 * 768 * MI });
  });

  it('takes the policy\'s default requests as "before" for a container that requests nothing', () => {
    const status = workloadStatus(facts({ containers: [{ name: 'app', requests: {} }] }));
    expect(status.saved).to.deep.equal({ cpu: 3 * (100 - 250), memory: 3 * (128 - 256) * MI });
  });

  it('saves nothing with resize off (the recommendation is only shown), or at zero replicas', () => {
    expect(workloadStatus(facts({ resize: 'off' })).saved).to.deep.equal({ cpu: 0, memory: 0 });
    expect(workloadStatus(facts({ replicas: { spec: 0, actual: 0, ready: 0 } })).saved).to.deep.equal({ cpu: 0, memory: 0 });
  });

  it('never counts a raise-only target as a decrease', () => {
    const status = readStatus(JSON.stringify({ recommendation: { containers: { app: { cpu: '250m', memory: '2Gi', raiseOnly: true } } } }));
    expect(workloadStatus(facts({ status })).saved).to.deep.equal({ cpu: 0, memory: 3 * -1024 * MI });
    expect(workloadStatus(facts({ status })).containers[0]).to.include({ raiseOnly: true });
  });

  it('before any status: spec.replicas as desired, nothing known of load or reason', () => {
    const status = workloadStatus(facts({ status: undefined }));
    expect(status).to.deep.include({ replicas: { desired: 3, actual: 3, ready: 2 }, inFlight: null, reason: null, lastRequestAt: null, pending: [] });
    expect(status.containers[0]).to.not.have.property('recommendation');
  });

  it('adds the totals of every workload', () => {
    const one = workloadStatus(facts());
    expect(totalSaved([one, one])).to.deep.equal({ cpu: 2 * one.saved.cpu, memory: 2 * one.saved.memory });
    expect(totalSaved([])).to.deep.equal({ cpu: 0, memory: 0 });
  });

  it("says what waits: replicas not ready yet, then the controller's pending lines", () => {
    expect(pendingLines(workloadStatus(facts()))).to.deep.equal(['1 of 3 desired replicas not ready yet', 'pod shop/web-1 waits for its resize']);
    const waking = workloadStatus(facts({ replicas: { spec: 1, actual: 1, ready: 0 }, status: readStatus('{"desiredReplicas":1}') }));
    expect(pendingLines(waking)).to.deep.equal(['1 of 1 desired replicas not ready yet (waking up)']);
  });
});

describe('kubectl ebb explain, derived', () => {
  const namespace = { name: 'shop', labels: { 'ebb.dev/injection': 'enabled' }, annotations: { 'ebb.dev/idle-after': '30m' } };
  const policy = { ...DEFAULT_POLICY, defaults: { 'max-replicas': 5 }, namespaces: new Map([['shop', { settings: { 'target-concurrency': 4 } }]]) };

  it('names the level every setting came from, and what an unset optional one means', () => {
    const { optIn, resolution } = resolveWorkload({
      podTemplate: { annotations: { 'ebb.dev/resize': 'auto' } },
      deployment: { name: 'web', annotations: { 'ebb.dev/min-replicas': '1', 'ebb.dev/max-replicas': 'many' } },
      namespace,
      policy,
      ebbNamespace: 'ebb-system',
    });
    const lines = Object.fromEntries(settingLines(optIn, resolution).map((line) => [line.setting, [line.value, line.source]]));
    expect(lines).to.deep.include({
      enabled: ['true', 'namespace shop is labelled ebb.dev/injection=enabled'],
      resize: ['auto', 'pod template'],
      'min-replicas': ['1', 'Deployment web'],
      'idle-after': ['30m', 'Namespace shop'],
      'target-concurrency': ['4', 'policy rule for shop'],
      'max-replicas': ['5', 'policy defaults'],
      'scale-down-delay': ['5m', 'built-in default'],
      'keep-warm': ['none', 'built-in default'],
      'cpu-max': ['-', 'not set: no upper bound'],
    });
    expect(invalidValues(resolution!.errors)).to.deep.equal([
      { key: 'ebb.dev/max-replicas', value: 'many', message: 'ebb.dev/max-replicas: "many" is not accepted: expected a whole number ≥ 1' },
    ]);
  });

  it('shows only why a workload that is not opted in is not', () => {
    const { optIn, resolution } = resolveWorkload({
      podTemplate: {},
      deployment: { name: 'web' },
      namespace: { name: 'shop' },
      policy: DEFAULT_POLICY,
      ebbNamespace: 'ebb-system',
    });
    expect(settingLines(optIn, resolution)).to.deep.equal([{ setting: 'enabled', value: 'false', source: 'nothing opts it in' }]);
  });

  it('lists the newest decisions first, at most the limit', () => {
    const event = (at: string, reason: string) => ({ at, type: 'Normal', reason, object: 'Deployment web', message: '', count: 1 });
    const events = [event('2026-12-01T10:00:00Z', 'Scaled'), event('2026-12-01T11:00:00Z', 'ScaledToZero'), event('2026-12-01T10:30:00Z', 'Resized')];
    expect(recentDecisions(events, 2).map((e) => e.reason)).to.deep.equal(['ScaledToZero', 'Resized']);
  });
});

describe('kubectl ebb check, judged', () => {
  it('sees a leader while its Lease is renewed within its duration', () => {
    const lease = { holder: 'ebb-controller-0', renewedAt: now - 5_000, durationMs: 15_000 };
    expect(leaderLine(lease, 'ebb-system/ebb-controller', now)).to.deep.equal({
      ok: true,
      title: 'controller leader: ebb-controller-0 (Lease ebb-system/ebb-controller)',
    });
    expect(leaderLine({ ...lease, renewedAt: now - 60_000 }, 'ebb-system/ebb-controller', now)).to.include({
      ok: false,
      title: 'controller leader: ebb-controller-0 last renewed Lease ebb-system/ebb-controller 60s ago, past its 15s',
    });
    expect(leaderLine({ ...lease, holder: '' }, 'ebb-system/ebb-controller', now).ok).to.equal(false);
    expect(leaderLine(undefined, 'ebb-system/ebb-controller', now)).to.include({ ok: false, title: 'controller leader: no Lease ebb-system/ebb-controller' });
  });

  it('wants a Ready agent on every node, and names the nodes without one', () => {
    const agents = [
      { name: 'a', node: 'n1', ready: true },
      { name: 'b', node: 'n2', ready: false },
    ];
    expect(agentsLine(['n1'], agents, 'ebb-system/ebb-agent')).to.deep.equal({ ok: true, title: 'an agent Ready on every node (1)' });
    const line = agentsLine(['n1', 'n2', 'n3'], agents, 'ebb-system/ebb-agent');
    expect(line).to.include({ ok: false, title: 'an agent Ready on every node: none on n2, n3 (1 of 3 nodes have one)' });
    expect(line.fix).to.contain('kubectl -n ebb-system describe daemonset ebb-agent');
    expect(agentsLine(['n1'], [], 'ebb-system/ebb-agent')).to.deep.equal({
      ok: false,
      title: 'an agent Ready on every node: no pod of DaemonSet ebb-system/ebb-agent at all',
      fix: 'apply the manifests: kubectl apply -k manifests',
    });
  });

  it('reports a certificate that expires within two weeks, or has expired', () => {
    const day = 24 * 3_600_000;
    expect(expiryLine('serving certificate', now + 100 * day, now, 'renew')).to.deep.equal({
      ok: true,
      title: 'serving certificate valid until 2027-03-11 (100 days)',
    });
    expect(expiryLine('serving certificate', now + 3 * day, now, 'renew')).to.deep.equal({
      ok: false,
      title: 'serving certificate expires in 3 days (2026-12-04)',
      fix: 'renew',
    });
    expect(expiryLine('serving certificate', now - day, now, 'renew')).to.include({ ok: false, title: 'serving certificate expired on 2026-11-30' });
  });

  it('exits 1 on any ✘', () => {
    expect(exitCodeOf([{ ok: true, title: 'a' }])).to.equal(0);
    expect(
      exitCodeOf([
        { ok: true, title: 'a' },
        { ok: false, title: 'b', fix: 'c' },
      ]),
    ).to.equal(1);
  });
});
