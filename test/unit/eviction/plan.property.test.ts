// The planner driven against a simulated cluster for any policy and any course of events: the
// ReplicaSet replaces evicted pods, which take a while to go and their replacements a while to be
// Ready; pods stop being Ready now and then; PodDisruptionBudgets refuse at random; the scaler
// applies surge floors a step late; the cache learns of an eviction and of the pods the ReplicaSet
// creates a while later (readiness at once, so that the rules are judged on what they see). Whatever happens, the
// safety rules hold in the cluster as it really is at each eviction.
import { expect } from 'chai';
import fc from 'fast-check';
import { INITIAL_EVICTION_STATE, planEvictions, recordEvicted, recordRefused, type EvictionState } from '../../../src/core/eviction/index.ts';
import type { EvictionCandidate, WorkloadPods } from '../../../src/core/eviction/types.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import { evictionPolicy, MINUTE_MS, SECOND_MS, T0 } from './cluster.ts';

interface SimPod {
  uid: string;
  createdAt: number;
  readyAt: number;
  /** Not Ready until then (a flap), even after readyAt. */
  unreadyUntil: number;
  goneAt?: number;
  evictedAt?: number;
}

interface SimWorkload {
  key: WorkloadKey;
  base: number;
  maxReplicas: number;
  replicas: number;
  pods: SimPod[];
}

const step = fc.record({
  elapsedMs: fc.integer({ min: 0, max: 15 * SECOND_MS }),
  /** A pod (by index, modulo) stops being Ready for a while. */
  flap: fc.option(fc.record({ pod: fc.nat(), forMs: fc.integer({ min: 0, max: 30 * SECOND_MS }) }), { freq: 5 }),
  /** Someone deletes a pod (by index, modulo). */
  deletion: fc.option(fc.nat(), { freq: 8 }),
  refuse: fc.boolean(),
  terminationMs: fc.integer({ min: 0, max: 20 * SECOND_MS }),
  readyMs: fc.integer({ min: 0, max: 20 * SECOND_MS }),
});

const scenario = fc.record({
  ratePerMinute: fc.integer({ min: 1, max: 20 }),
  cacheLagMs: fc.integer({ min: 0, max: 10 * SECOND_MS }),
  workloads: fc.array(fc.record({ base: fc.integer({ min: 1, max: 4 }), room: fc.integer({ min: 0, max: 1 }) }), { minLength: 1, maxLength: 4 }),
  /** How many of each workload's pods are offered, each step. */
  offered: fc.integer({ min: 1, max: 4 }),
  steps: fc.array(step, { minLength: 1, maxLength: 80 }),
});

describe('planEvictions against a simulated cluster', () => {
  it('never more than ratePerMinute eviction requests (refused ones too) in any 60 s, never two pods of a workload at once, never while another of its pods is not Ready, never its last Ready pod', () => {
    fc.assert(
      fc.property(scenario, ({ ratePerMinute, cacheLagMs, workloads: shapes, offered, steps }) => {
        let now = T0;
        let serial = 0;
        const newPod = (readyAt: number): SimPod => ({ uid: `p${serial++}`, createdAt: now, readyAt, unreadyUntil: 0 });
        const cluster: SimWorkload[] = shapes.map(({ base, room }, index) => ({
          key: `shop/w${index}`,
          base,
          maxReplicas: base + room,
          replicas: base,
          pods: Array.from({ length: base }, () => ({ ...newPod(now), createdAt: now - MINUTE_MS })),
        }));
        const policy = evictionPolicy({ ratePerMinute });
        let state: EvictionState = INITIAL_EVICTION_STATE;
        /** Every eviction request, refused ones included. */
        const requests: number[] = [];
        const offeredAt = new Map<string, number>();
        const isReady = (pod: SimPod) => pod.goneAt === undefined && now >= pod.readyAt && now >= pod.unreadyUntil;

        for (const { elapsedMs, flap, deletion, refuse, terminationMs, readyMs } of steps) {
          now += elapsedMs;
          for (const workload of cluster) {
            workload.pods = workload.pods.filter((pod) => pod.goneAt === undefined || pod.goneAt > now);
            // The ReplicaSet: replaces pods that are going, removes the newest beyond the count.
            const live = workload.pods.filter((pod) => pod.goneAt === undefined);
            for (let missing = workload.replicas - live.length; missing > 0; missing--) workload.pods.push(newPod(now + readyMs));
            for (const extra of live.slice(workload.replicas)) extra.goneAt = now + terminationMs;
          }
          const all = cluster.flatMap((workload) => workload.pods);
          if (flap) {
            const victim = all[flap.pod % all.length];
            if (victim) victim.unreadyUntil = now + flap.forMs;
          }
          if (deletion !== null) {
            const victim = all[deletion % all.length];
            if (victim) victim.goneAt ??= now + terminationMs;
          }

          const unseen = (at: number | undefined) => at !== undefined && now - at < cacheLagMs;
          const view = new Map<WorkloadKey, WorkloadPods>(
            cluster.map((workload) => [
              workload.key,
              {
                replicas: workload.replicas,
                maxReplicas: workload.maxReplicas,
                pods: workload.pods
                  .filter((pod) => !unseen(pod.createdAt))
                  .map((pod) => ({
                    name: `shop/${pod.uid}`,
                    uid: pod.uid,
                    // A terminating pod may still say Ready for a while.
                    ready: now >= pod.readyAt && now >= pod.unreadyUntil,
                    terminating: pod.goneAt !== undefined && !unseen(pod.evictedAt),
                  })),
              },
            ]),
          );
          const candidates: EvictionCandidate[] = cluster.flatMap((workload) =>
            workload.pods.slice(0, offered).map((pod) => {
              if (!offeredAt.has(pod.uid)) offeredAt.set(pod.uid, now);
              return { workload: workload.key, pod: `shop/${pod.uid}`, podUid: pod.uid, priority: 1, offeredAt: offeredAt.get(pod.uid)!, why: 'resize' };
            }),
          );

          // As the manager does: plan; a refusal lets the next in line try in the same round.
          for (let attempt = 0; attempt <= candidates.length; attempt++) {
            const plan = planEvictions({ candidates, workloads: view, policy, state, now });
            state = plan.state;
            if (!plan.evict) break;
            const { candidate } = plan.evict;
            const workload = cluster.find((candidateWorkload) => candidateWorkload.key === candidate.workload)!;
            const target = workload.pods.find((pod) => pod.uid === candidate.podUid)!;
            requests.push(now);
            if (refuse) {
              state = recordRefused(state, candidate, 'refused', now).state;
              continue;
            }
            const others = workload.pods.filter((pod) => pod !== target);
            const message = `${candidate.pod} at +${now - T0} ms: ${JSON.stringify(workload)}`;
            expect(
              others.every((pod) => pod.goneAt === undefined),
              `another pod going: ${message}`,
            ).to.equal(true);
            expect(others.every(isReady), `another pod not Ready: ${message}`).to.equal(true);
            expect(others.length, `its last pod: ${message}`).to.be.at.least(1);
            expect(workload.pods.length, `short of replicas: ${message}`).to.be.at.least(workload.replicas);
            target.goneAt = now + terminationMs;
            target.evictedAt = now;
            state = recordEvicted(state, candidate, now, false);
            break;
          }
          // The scaler applies the surge floors after the plan: the cluster sees them next step.
          for (const workload of cluster) workload.replicas = Math.max(workload.base, state.surges.get(workload.key)?.replicas ?? 0);
        }

        for (const [index, at] of requests.entries()) {
          const inWindow = requests.filter((other) => other > at - MINUTE_MS && other <= at).length;
          expect(inWindow, `requests at ${requests.map((t) => t - T0).join(', ')}`).to.be.at.most(ratePerMinute);
          if (index > 0) expect(at - requests[index - 1]!).to.be.at.least(MINUTE_MS / ratePerMinute);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('evicts every offered pod in the end when nothing refuses and pods become Ready', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 3 }), (ratePerMinute, base) => {
        // One workload; every original pod is offered until it is gone.
        let now = T0;
        let state: EvictionState = INITIAL_EVICTION_STATE;
        let replicas = base;
        let pods = Array.from({ length: base }, (_, index) => ({ uid: `old-${index}`, goneAt: undefined as number | undefined }));
        let serial = 0;
        for (let round = 0; round < 400 && pods.some((pod) => pod.uid.startsWith('old')); round++) {
          now += 5 * SECOND_MS;
          pods = pods.filter((pod) => pod.goneAt === undefined || pod.goneAt > now);
          const live = pods.filter((pod) => pod.goneAt === undefined);
          for (let missing = replicas - live.length; missing > 0; missing--) pods.push({ uid: `new-${serial++}`, goneAt: undefined });
          for (const extra of live.slice(replicas)) extra.goneAt = now;
          const view = new Map<WorkloadKey, WorkloadPods>([
            [
              'shop/web',
              {
                replicas,
                maxReplicas: 10,
                pods: pods.map((pod) => ({ name: `shop/${pod.uid}`, uid: pod.uid, ready: true, terminating: pod.goneAt !== undefined })),
              },
            ],
          ]);
          const candidates = pods
            .filter((pod) => pod.uid.startsWith('old') && pod.goneAt === undefined)
            .map((pod) => ({ workload: 'shop/web' as const, pod: `shop/${pod.uid}`, podUid: pod.uid, priority: 1, offeredAt: T0, why: 'repair' }));
          const plan = planEvictions({ candidates, workloads: view, policy: evictionPolicy({ ratePerMinute }), state, now });
          state = plan.state;
          if (plan.evict) {
            pods.find((pod) => pod.uid === plan.evict!.candidate.podUid)!.goneAt = now + SECOND_MS;
            state = recordEvicted(state, plan.evict.candidate, now, false);
          }
          replicas = Math.max(base, state.surges.get('shop/web')?.replicas ?? 0);
        }
        expect(pods.filter((pod) => pod.uid.startsWith('old'))).to.deep.equal([]);
        expect(state.surges.size).to.equal(0);
      }),
      { numRuns: 100 },
    );
  });
});
