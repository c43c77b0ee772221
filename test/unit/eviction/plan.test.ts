import { expect } from 'chai';
import {
  INITIAL_EVICTION_STATE,
  planEvictions,
  recordEvicted,
  recordRefused,
  SURGE_READY_TIMEOUT_MS,
  type EvictionCandidate,
  type EvictionState,
  type Plan,
  type WorkloadPods,
} from '../../../src/core/eviction/index.ts';
import type { EvictionPolicy } from '../../../src/core/policy.ts';
import { parseTimeWindow } from '../../../src/core/time-window.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import { candidate, evictionPolicy, MINUTE_MS, pod, SECOND_MS, T0, workloadPods } from './cluster.ts';

/** The planner as the manager drives it: plan, evict what it says, keep the state. */
class Planner {
  state: EvictionState = INITIAL_EVICTION_STATE;
  now = T0;

  constructor(public policy: EvictionPolicy = evictionPolicy()) {}

  plan(candidates: readonly EvictionCandidate[], workloads: Record<string, WorkloadPods>): Plan<EvictionCandidate> {
    const plan = planEvictions({
      candidates,
      workloads: new Map(Object.entries(workloads)) as Map<WorkloadKey, WorkloadPods>,
      policy: this.policy,
      state: this.state,
      now: this.now,
    });
    this.state = plan.state;
    return plan;
  }

  /** Plans and records the eviction it asks for as accepted; the evicted pod's name, if any. */
  step(candidates: readonly EvictionCandidate[], workloads: Record<string, WorkloadPods>): string | undefined {
    const plan = this.plan(candidates, workloads);
    if (!plan.evict) return undefined;
    this.state = recordEvicted(this.state, plan.evict.candidate, this.now, this.policy.dryRun);
    return plan.evict.candidate.pod;
  }
}

const whys = (plan: Plan<EvictionCandidate>) => plan.waiting.map((waiting) => `${waiting.candidate.pod} ${waiting.why}`);

describe('planEvictions', () => {
  describe('the rate limit', () => {
    it('evicts the highest priority first and spaces evictions 60 s / ratePerMinute apart', () => {
      const planner = new Planner();
      const workloads = { 'shop/a': workloadPods([pod('a-0'), pod('a-1')]), 'shop/b': workloadPods([pod('b-0'), pod('b-1')]) };
      const candidates = [candidate('a-0', { priority: 1 }), candidate('b-0', { priority: 3 })];
      const first = planner.plan(candidates, workloads);
      expect(first.evict?.candidate.pod).to.equal('shop/b-0');
      expect(whys(first)).to.deep.equal(['shop/a-0 waits for the eviction rate limit (5/min)']);
      expect(first.nextAt).to.equal(T0 + 12 * SECOND_MS);
      planner.state = recordEvicted(planner.state, first.evict!.candidate, planner.now, false);

      planner.now = T0 + 12 * SECOND_MS - 1;
      const early = planner.plan([candidates[0]!], workloads);
      expect(early.evict).to.equal(undefined);
      expect(early.nextAt).to.equal(T0 + 12 * SECOND_MS);
      planner.now = T0 + 12 * SECOND_MS;
      expect(planner.plan([candidates[0]!], workloads).evict?.candidate.pod).to.equal('shop/a-0');
    });

    it('puts the longest offered first among equal priorities', () => {
      const workloads = { 'shop/a': workloadPods([pod('a-0'), pod('a-1')]), 'shop/b': workloadPods([pod('b-0'), pod('b-1')]) };
      const plan = new Planner().plan([candidate('a-0', { offeredAt: T0 }), candidate('b-0', { offeredAt: T0 - MINUTE_MS })], workloads);
      expect(plan.evict?.candidate.pod).to.equal('shop/b-0');
    });

    it('evicts nothing when ratePerMinute is 0', () => {
      const plan = new Planner(evictionPolicy({ ratePerMinute: 0 })).plan([candidate('a-0')], { 'shop/a': workloadPods([pod('a-0'), pod('a-1')]) });
      expect(plan.evict).to.equal(undefined);
      expect(whys(plan)).to.deep.equal(['shop/a-0 waits: eviction is off (eviction.ratePerMinute is 0)']);
    });
  });

  describe('one pod of a workload at a time, only while the others are Ready', () => {
    it('waits until the evicted pod has left and its replacement is Ready', () => {
      const planner = new Planner(evictionPolicy({ ratePerMinute: 60 }));
      const candidates = [candidate('web-0'), candidate('web-1')];
      expect(planner.step(candidates, { 'shop/web': workloadPods([pod('web-0'), pod('web-1'), pod('web-2')]) })).to.equal('shop/web-0');

      // The cache has not seen the eviction yet: web-0 still looks Ready.
      planner.now += MINUTE_MS;
      let plan = planner.plan(candidates, { 'shop/web': workloadPods([pod('web-0'), pod('web-1'), pod('web-2')]) });
      expect(plan.evict).to.equal(undefined);
      expect(whys(plan)).to.deep.equal(['shop/web-0 is being evicted', 'shop/web-1 waits until pod shop/web-0, evicted, has been replaced']);

      // Gone, and the ReplicaSet has not created the replacement yet.
      plan = planner.plan([candidates[1]!], { 'shop/web': workloadPods([pod('web-1'), pod('web-2')], { replicas: 3 }) });
      expect(whys(plan)).to.deep.equal(['shop/web-1 waits until shop/web has all its 3 replicas (2 now)']);

      plan = planner.plan([candidates[1]!], { 'shop/web': workloadPods([pod('web-1'), pod('web-2'), pod('web-3', { ready: false })]) });
      expect(whys(plan)).to.deep.equal(['shop/web-1 waits for pod shop/web-3 to be Ready']);

      expect(planner.step([candidates[1]!], { 'shop/web': workloadPods([pod('web-1'), pod('web-2'), pod('web-3')]) })).to.equal('shop/web-1');
    });

    it('never evicts while another pod is not Ready or terminating, and does evict a pod that is itself not Ready', () => {
      const planner = new Planner();
      let plan = planner.plan([candidate('web-0')], { 'shop/web': workloadPods([pod('web-0'), pod('web-1', { ready: false })]) });
      expect(whys(plan)).to.deep.equal(['shop/web-0 waits for pod shop/web-1 to be Ready']);
      plan = planner.plan([candidate('web-0')], {
        'shop/web': workloadPods([pod('web-0'), pod('web-1'), pod('web-2', { terminating: true })], { replicas: 2 }),
      });
      expect(whys(plan)).to.deep.equal(['shop/web-0 waits until pod shop/web-2, terminating, has been replaced']);
      plan = planner.plan([candidate('web-0')], { 'shop/web': workloadPods([pod('web-0', { ready: false }), pod('web-1')]) });
      expect(plan.evict?.candidate.pod).to.equal('shop/web-0');
    });

    it('takes one pod of a workload per plan even when the rate would allow more', () => {
      const plan = new Planner(evictionPolicy({ ratePerMinute: 10_000 })).plan([candidate('web-0'), candidate('web-1')], {
        'shop/web': workloadPods([pod('web-0'), pod('web-1'), pod('web-2')]),
      });
      expect(plan.evict?.candidate.pod).to.equal('shop/web-0');
      expect(whys(plan)).to.deep.equal(['shop/web-1 waits: one pod of shop/web at a time']);
    });
  });

  describe('a refused eviction (PodDisruptionBudget)', () => {
    it('is retried after a backoff that doubles, and only its first refusal starts an episode', () => {
      const planner = new Planner(evictionPolicy({ ratePerMinute: 60 }));
      const workloads = { 'shop/web': workloadPods([pod('web-0'), pod('web-1')]) };
      const attempts: number[] = [];
      const firsts: boolean[] = [];
      for (let second = 0; second <= 80; second++) {
        planner.now = T0 + second * SECOND_MS;
        const plan = planner.plan([candidate('web-0')], workloads);
        if (!plan.evict) continue;
        attempts.push(second);
        const refused = recordRefused(planner.state, plan.evict.candidate, 'a PodDisruptionBudget refused the eviction', planner.now);
        planner.state = refused.state;
        firsts.push(refused.first);
      }
      expect(attempts).to.deep.equal([0, 5, 15, 35, 75]);
      expect(firsts).to.deep.equal([true, false, false, false, false]);
      planner.now = T0 + 76 * SECOND_MS;
      expect(whys(planner.plan([candidate('web-0')], workloads))).to.deep.equal([
        'shop/web-0 waits: a PodDisruptionBudget refused the eviction; next try in 1m19s',
      ]);
    });

    it('ends its episode when an eviction succeeds or nothing of the workload is on offer', () => {
      const planner = new Planner(evictionPolicy({ ratePerMinute: 60 }));
      const workloads = { 'shop/web': workloadPods([pod('web-0'), pod('web-1')]) };
      planner.state = recordRefused(planner.state, candidate('web-0'), 'refused', planner.now).state;
      planner.plan([], workloads);
      expect(recordRefused(planner.state, candidate('web-0'), 'refused', planner.now).first).to.equal(true);
      planner.state = recordEvicted(recordRefused(planner.state, candidate('web-0'), 'refused', planner.now).state, candidate('web-0'), planner.now, false);
      expect(recordRefused(planner.state, candidate('web-1'), 'refused', planner.now).first).to.equal(true);
    });
  });

  describe('windows', () => {
    it('evicts only inside an eviction window, in its time zone', () => {
      const window = parseTimeWindow('Mon-Fri 22:00-06:00 Europe/Berlin');
      if (!window.ok) throw new Error(window.error);
      const planner = new Planner(evictionPolicy({ windows: [window.value] }));
      const workloads = { 'shop/web': workloadPods([pod('web-0'), pod('web-1')]) };
      planner.now = Date.UTC(2026, 11, 1, 20, 59); // Tuesday 21:59 in Berlin
      expect(whys(planner.plan([candidate('web-0')], workloads))).to.deep.equal([
        'shop/web-0 waits for an eviction window (Mon-Fri 22:00-06:00 Europe/Berlin)',
      ]);
      planner.now = Date.UTC(2026, 11, 1, 21, 0);
      expect(planner.plan([candidate('web-0')], workloads).evict?.candidate.pod).to.equal('shop/web-0');
    });
  });

  describe('dry run', () => {
    it('reports each pod once, at the rate, and changes nothing: no eviction recorded, no surge', () => {
      const planner = new Planner(evictionPolicy({ dryRun: true }));
      const workloads = { 'shop/web': workloadPods([pod('web-0'), pod('web-1')]), 'shop/solo': workloadPods([pod('solo-0')]) };
      const candidates = [candidate('web-0'), candidate('web-1'), candidate('solo-0')];
      const reported: string[] = [];
      for (let second = 0; second <= 60; second++) {
        planner.now = T0 + second * SECOND_MS;
        const plan = planner.plan(candidates, workloads);
        expect(plan.surgesStarted).to.deep.equal([]);
        if (plan.evict) reported.push(`${second}s ${plan.evict.candidate.pod}${plan.evict.surged ? ' with a surge' : ''}`);
        planner.state = plan.evict ? recordEvicted(planner.state, plan.evict.candidate, planner.now, true) : planner.state;
      }
      expect(reported).to.deep.equal(['0s shop/solo-0 with a surge', '12s shop/web-0', '24s shop/web-1']);
      expect(planner.state.evicted.size).to.equal(0);
      expect(whys(planner.plan(candidates, workloads))[0]).to.equal('shop/solo-0 was reported in dry run (eviction.dryRun: nothing is evicted)');
    });
  });

  describe('a single replica', () => {
    it('gets a surge replica first, is evicted once that is Ready, and the surge ends when the replacement is Ready', () => {
      const planner = new Planner();
      const solo = candidate('web-0');
      let plan = planner.plan([solo], { 'shop/web': workloadPods([pod('web-0')]) });
      expect(plan.evict).to.equal(undefined);
      expect(plan.surgesStarted).to.deep.equal([{ workload: 'shop/web', surge: { replicas: 2, pod: 'shop/web-0', since: T0 } }]);
      expect(whys(plan)).to.deep.equal(['shop/web-0 waits for a surge replica of shop/web to be Ready (1 → 2 while it is replaced)']);

      planner.now += 2 * SECOND_MS; // the scaler raised the count; the new pod is not Ready yet
      plan = planner.plan([solo], { 'shop/web': workloadPods([pod('web-0'), pod('web-s', { ready: false })]) });
      expect(plan.evict).to.equal(undefined);
      expect(plan.surgesStarted).to.deep.equal([]);
      planner.now += 2 * SECOND_MS;
      plan = planner.plan([solo], { 'shop/web': workloadPods([pod('web-0'), pod('web-s')]) });
      expect(plan.evict).to.deep.equal({ candidate: solo, surged: true });
      planner.state = recordEvicted(planner.state, solo, planner.now, false);

      planner.now += 2 * SECOND_MS;
      planner.plan([], { 'shop/web': workloadPods([pod('web-s'), pod('web-r', { ready: false })]) });
      expect(planner.state.surges.get('shop/web')?.replicas).to.equal(2);
      planner.plan([], { 'shop/web': workloadPods([pod('web-s'), pod('web-r')]) });
      expect(planner.state.surges.size).to.equal(0);
    });

    it('stays when no surge replica may be added, and says why', () => {
      const planner = new Planner();
      let plan = planner.plan([candidate('web-0')], { 'shop/web': workloadPods([pod('web-0')], { maxReplicas: 1 }) });
      expect(whys(plan)).to.deep.equal([
        'shop/web-0 cannot be replaced safely: it is the only pod of shop/web, and max-replicas 1 leaves no room for a surge replica',
      ]);
      plan = planner.plan([candidate('web-0')], { 'shop/web': workloadPods([pod('web-0')], { replicasHeldBy: 'ebb.dev/paused' }) });
      expect(whys(plan)).to.deep.equal([
        'shop/web-0 cannot be replaced safely: it is the only pod of shop/web, and ebb may not add a surge replica (ebb.dev/paused)',
      ]);
      expect(plan.surgesStarted).to.deep.equal([]);
    });

    it('gives the surge up when the pod is no longer offered, or its replica is not Ready in time (then a refusal)', () => {
      const planner = new Planner();
      planner.plan([candidate('web-0')], { 'shop/web': workloadPods([pod('web-0')]) });
      planner.plan([], { 'shop/web': workloadPods([pod('web-0'), pod('web-s')], { replicas: 2 }) });
      expect(planner.state.surges.size).to.equal(0);

      planner.plan([candidate('web-0')], { 'shop/web': workloadPods([pod('web-0')]) });
      planner.now += SURGE_READY_TIMEOUT_MS;
      const plan = planner.plan([candidate('web-0')], { 'shop/web': workloadPods([pod('web-0'), pod('web-s', { ready: false })]) });
      expect(planner.state.surges.size).to.equal(0);
      expect(plan.evict).to.equal(undefined);
      expect(whys(plan)).to.deep.equal(['shop/web-0 waits: its surge replica was not Ready within 5m, so its only Ready pod stays; next try in 5s']);
    });

    it('starts no more surges at once than evictions per minute', () => {
      const planner = new Planner(evictionPolicy({ ratePerMinute: 2 }));
      const workloads = Object.fromEntries(['a', 'b', 'c'].map((name) => [`shop/${name}`, workloadPods([pod(`${name}-0`)])]));
      const plan = planner.plan(
        ['a-0', 'b-0', 'c-0'].map((name) => candidate(name)),
        workloads,
      );
      expect(plan.surgesStarted.map((started) => started.workload)).to.deep.equal(['shop/a', 'shop/b']);
      expect(whys(plan)[2]).to.equal('shop/c-0 waits for a surge slot (at most 2 surge replicas at once, as eviction.ratePerMinute)');
    });
  });
});
