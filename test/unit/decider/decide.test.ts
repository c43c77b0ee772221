import { expect } from 'chai';
import { ActivityWindow } from '../../../src/core/decider/activity-window.ts';
import { decide, INITIAL_DECIDER_STATE, type Decision } from '../../../src/core/decider/decide.ts';
import type { KeepWarmWindow } from '../../../src/core/settings.ts';
import { changes, MINUTE_MS, replicasOf, scalingSettings, T0, Workload } from './workload.ts';

const SECOND_MS = 1000;
const officeHours = (replicas: number): KeepWarmWindow => ({
  days: [1, 2, 3, 4, 5],
  startMinute: 8 * 60,
  endMinute: 19 * 60,
  timeZone: 'Europe/Berlin',
  replicas,
});
const reasonOf = (decision: Decision): [string, string] => [decision.reason.code, decision.reason.message];

describe('decide', () => {
  describe('on load', () => {
    it('wants ceil(concurrency / target) replicas', () => {
      const workload = new Workload(scalingSettings(), { replicas: 3 });
      const [decision] = workload.run(2 * SECOND_MS, 42);
      expect(decision?.desiredReplicas).to.equal(5);
      expect(reasonOf(decision!)).to.deep.equal(['load', '3 → 5: 42 in flight, target 10 per pod']);
    });

    it('reports the stable-window concurrency it decided on (for the status annotation)', () => {
      const workload = new Workload(scalingSettings(), { replicas: 5 });
      expect(workload.run(MINUTE_MS, 42).at(-1)?.inFlight).to.equal(42);
    });

    it('holds while the load asks for the current count', () => {
      const workload = new Workload(scalingSettings(), { replicas: 5 });
      const decisions = workload.run(MINUTE_MS, 42);
      expect(replicasOf(decisions)).to.deep.equal(Array(30).fill(5));
      expect(reasonOf(decisions.at(-1)!)).to.deep.equal(['steady', 'holding 5: 42 in flight, target 10 per pod']);
    });

    it('follows the mean of the stable window as it catches up with a rise', () => {
      const workload = new Workload(scalingSettings(), { replicas: 5 });
      workload.run(MINUTE_MS, 42);
      const decisions = workload.run(MINUTE_MS, 70);
      // after k reports of 70, the mean is 42 + 28k/30: past 50 at k = 9, past 60 at k = 20
      expect(decisions.findIndex((d) => d.desiredReplicas === 6)).to.equal(8);
      expect(decisions.findIndex((d) => d.desiredReplicas === 7)).to.equal(19);
      expect(changes(decisions, 5)).to.deep.equal(['5 → 6: 50.4 in flight, target 10 per pod', '6 → 7: 60.7 in flight, target 10 per pod']);
      expect(decisions.every((d) => d.state.panic === undefined)).to.equal(true);
    });

    it('caps at max-replicas', () => {
      const workload = new Workload(scalingSettings(), { replicas: 10 });
      const [decision] = workload.run(2 * SECOND_MS, 150);
      expect(decision?.desiredReplicas).to.equal(10);
      expect(reasonOf(decision!)).to.deep.equal(['max', 'holding 10: max-replicas 10 (load wants 15: 150 in flight, target 10 per pod)']);
    });
  });

  describe('panic', () => {
    it('starts on a burst, follows the panic window, never scales down, and ends a stable window after the last crossing', () => {
      const workload = new Workload(scalingSettings(), { replicas: 1 });
      workload.run(MINUTE_MS, 0);
      const burstStart = workload.now + 2 * SECOND_MS;

      const burst = workload.run(6 * SECOND_MS, 60);
      expect(burst.map(reasonOf)).to.deep.equal([
        // panic window (0, 0, 60) → 20 → 2 replicas = 2 × 1 ready: panic
        ['panic', '1 → 2: panic, 20 in flight over the last 6s, target 10 per pod'],
        // (0, 60, 60) → 40 → 4 = 2 × 2 ready: crossed again
        ['panic', '2 → 4: panic, 40 in flight over the last 6s, target 10 per pod'],
        // (60, 60, 60) → 6 = 1.5 × 4: below the threshold, still panicking
        ['panic', '4 → 6: panic, 60 in flight over the last 6s, target 10 per pod'],
      ]);
      expect(burst[2]?.state.panic).to.deep.equal({ since: burstStart, lastTriggeredAt: burstStart + 2 * SECOND_MS });

      const calm = workload.run(56 * SECOND_MS, 0);
      expect(replicasOf(calm)).to.deep.equal(Array(28).fill(6));
      expect(reasonOf(calm[0]!)).to.deep.equal([
        'panic',
        'holding 6: panic for 6s, no scale-down (load wants 4: 40 in flight over the last 6s, target 10 per pod)',
      ]);
      // 58 s after the last crossing
      expect(reasonOf(calm.at(-1)!)).to.deep.equal(['panic', 'holding 6: panic for 1m, no scale-down (load wants 1: 4 in flight, target 10 per pod)']);

      const after = workload.run(4 * SECOND_MS, 0);
      expect(after.map(reasonOf)).to.deep.equal([
        ['rate-limited', '6 → 3: scale-down limited to ÷2 per decision (load wants 1: 2 in flight, target 10 per pod)'],
        ['load', '3 → 1: 0 in flight, target 10 per pod'],
      ]);
      expect(after[0]?.state.panic).to.equal(undefined);
    });

    it('measures the threshold against ready replicas', () => {
      const workload = new Workload(scalingSettings(), { replicas: 4 });
      workload.activity.record({ at: T0, inFlight: 25 });
      // 3 wanted: 1.5 × 2 ready would not panic; 3 × 1 ready does
      const decision = workload.tick({ readyReplicas: 1 });
      expect(decision.state.panic).to.deep.equal({ since: T0, lastTriggeredAt: T0 });
      expect(reasonOf(decision)).to.deep.equal(['panic', 'holding 4: panic for 0s, no scale-down (load wants 3: 25 in flight, target 10 per pod)']);
    });
  });

  describe('rates', () => {
    it('scales up at most maxScaleUpRate × ready per decision', () => {
      const workload = new Workload(scalingSettings(), { replicas: 1, tuning: { maxScaleUpRate: 2 } });
      const decisions = workload.run(8 * SECOND_MS, 100);
      expect(replicasOf(decisions)).to.deep.equal([2, 4, 8, 10]);
      expect(reasonOf(decisions[0]!)).to.deep.equal([
        'rate-limited',
        '1 → 2: scale-up limited to ×2 per decision (load wants 10: 100 in flight, target 10 per pod)',
      ]);
      expect(reasonOf(decisions[3]!)).to.deep.equal(['panic', '8 → 10: panic, 100 in flight, target 10 per pod']);
    });

    it('scales down to no fewer than ready ÷ maxScaleDownRate per decision', () => {
      const workload = new Workload(scalingSettings(), { replicas: 10 });
      const decisions = workload.run(6 * SECOND_MS, 0);
      expect(replicasOf(decisions)).to.deep.equal([5, 2, 1]);
      expect(decisions.map(reasonOf)).to.deep.equal([
        ['rate-limited', '10 → 5: scale-down limited to ÷2 per decision (load wants 1: 0 in flight, target 10 per pod)'],
        ['rate-limited', '5 → 2: scale-down limited to ÷2 per decision (load wants 1: 0 in flight, target 10 per pod)'],
        ['load', '2 → 1: 0 in flight, target 10 per pod'],
      ]);
    });

    it('takes the rates from ready replicas, but never turns a scale-up into a scale-down', () => {
      const down = new Workload(scalingSettings(), { replicas: 10 });
      down.activity.record({ at: T0, inFlight: 0 });
      expect(down.tick({ readyReplicas: 4 }).desiredReplicas).to.equal(2);

      const up = new Workload(scalingSettings(), { replicas: 3, tuning: { maxScaleUpRate: 2 } });
      up.activity.record({ at: T0, inFlight: 100 });
      expect(reasonOf(up.tick({ readyReplicas: 0 }))).to.deep.equal([
        'rate-limited',
        'holding 3: scale-up limited to ×2 per decision (load wants 10: 100 in flight, target 10 per pod)',
      ]);
    });
  });

  describe('scale-down delay', () => {
    // Rates out of the way, to see the delay alone: 5 replicas at 50 in flight, then nothing.
    const quietAfterLoad = (scaleDownDelayMs: number): Decision[] => {
      const settings = scalingSettings({ scaleDownDelayMs });
      const workload = new Workload(settings, { replicas: 5, tuning: { maxScaleDownRate: 1000 } });
      workload.run(MINUTE_MS, 50);
      return workload.run(MINUTE_MS, 0);
    };

    it('without a delay, scales down as soon as the mean allows', () => {
      const decisions = quietAfterLoad(0);
      expect(decisions.findIndex((d) => d.desiredReplicas === 4)).to.equal(5);
      expect(reasonOf(decisions[5]!)).to.deep.equal(['load', '5 → 4: 40 in flight, target 10 per pod']);
    });

    it('scales down only once a lower count has been wanted for the whole delay', () => {
      const decisions = quietAfterLoad(30 * SECOND_MS);
      // 5 is last wanted at the 5th report (10 s), so it holds until the 20th (40 s); then the
      // highest count wanted since, 4 (10-22 s), until the 26th report (52 s)
      expect(decisions.findIndex((d) => d.desiredReplicas === 4)).to.equal(19);
      expect(decisions.findIndex((d) => d.desiredReplicas === 3)).to.equal(25);
      expect(reasonOf(decisions[5]!)).to.deep.equal([
        'scale-down-delay',
        'holding 5: highest count wanted in the scale-down delay 30s (load wants 4: 40 in flight, target 10 per pod)',
      ]);
      expect(changes(decisions, 5)).to.deep.equal([
        '5 → 4: highest count wanted in the scale-down delay 30s (load wants 2: 16.7 in flight, target 10 per pod)',
        '4 → 3: highest count wanted in the scale-down delay 30s (load wants 1: 6.7 in flight, target 10 per pod)',
      ]);
    });

    it('remembers one entry per distinct count, however long the delay', () => {
      const decisions = quietAfterLoad(30 * MINUTE_MS);
      expect(decisions.at(-1)?.state.recentWanted).to.deep.equal([
        { at: T0 + 70 * SECOND_MS, replicas: 5 },
        { at: T0 + 82 * SECOND_MS, replicas: 4 },
        { at: T0 + 94 * SECOND_MS, replicas: 3 },
        { at: T0 + 106 * SECOND_MS, replicas: 2 },
        { at: T0 + 120 * SECOND_MS, replicas: 1 },
      ]);
    });

    it('after a restart, counts the current replicas as wanted now', () => {
      const workload = new Workload(scalingSettings({ scaleDownDelayMs: 30 * SECOND_MS }), { replicas: 5 });
      const [decision] = workload.run(2 * SECOND_MS, 0);
      expect(reasonOf(decision!)).to.deep.equal([
        'scale-down-delay',
        'holding 5: highest count wanted in the scale-down delay 30s (load wants 1: 0 in flight, target 10 per pod)',
      ]);
    });
  });

  describe('idle', () => {
    it('ebbs to zero after idle-after without a request, with nothing in flight', () => {
      const workload = new Workload(scalingSettings(), { replicas: 1 });
      workload.run(2 * SECOND_MS, 1); // the last request
      const decisions = workload.run(15 * MINUTE_MS, 0);
      expect(replicasOf(decisions)).to.deep.equal([...Array<number>(449).fill(1), 0]);
      expect(reasonOf(decisions.at(-2)!)).to.deep.equal(['steady', 'holding 1: 0 in flight, target 10 per pod']);
      expect(reasonOf(decisions.at(-1)!)).to.deep.equal(['idle', '1 → 0: no request for 15m (idle-after 15m)']);
      expect(reasonOf(workload.run(2 * SECOND_MS, 0)[0]!)).to.deep.equal(['idle', 'holding 0: no request for 15m2s (idle-after 15m)']);
    });

    it('does not while a request is still in flight, however old the last new one', () => {
      const workload = new Workload(scalingSettings(), { replicas: 1, lastRequestAt: T0 - 60 * MINUTE_MS });
      const [decision] = workload.run(2 * SECOND_MS, 1, { newRequests: false });
      expect(reasonOf(decision!)).to.deep.equal(['steady', 'holding 1: 1 in flight, target 10 per pod']);
    });

    it('holds min-replicas instead when it is above zero', () => {
      const workload = new Workload(scalingSettings({ minReplicas: 2 }), { replicas: 2 });
      workload.run(2 * SECOND_MS, 1);
      const decisions = workload.run(16 * MINUTE_MS, 0);
      expect(replicasOf(decisions)).to.deep.equal(Array(480).fill(2));
      expect(reasonOf(decisions.at(-1)!)).to.deep.equal(['min', 'holding 2: min-replicas 2 (load wants 0: 0 in flight, target 10 per pod)']);
    });

    it('names min-replicas, not the scale-down delay, when the delay holds the count at the floor', () => {
      const workload = new Workload(scalingSettings({ minReplicas: 2, idleAfterMs: 0, scaleDownDelayMs: 5 * MINUTE_MS }), { replicas: 2 });
      const [decision] = workload.run(2 * SECOND_MS, 0);
      expect(reasonOf(decision!)).to.deep.equal(['min', 'holding 2: min-replicas 2 (load wants 0: 0 in flight, target 10 per pod)']);
    });

    it('counts from the first sample when no request is known, and does not wake a workload at zero', () => {
      const workload = new Workload(scalingSettings(), { replicas: 0 });
      const decisions = workload.run(15 * MINUTE_MS + 2 * SECOND_MS, 0);
      expect(replicasOf(decisions)).to.deep.equal(Array(451).fill(0));
      expect(reasonOf(decisions.at(-2)!)).to.deep.equal(['steady', 'holding 0: 0 in flight, target 10 per pod']);
      expect(reasonOf(decisions.at(-1)!)).to.deep.equal(['idle', 'holding 0: no request for 15m (idle-after 15m)']);
    });

    it('forgets panic and the delay history on the way to zero', () => {
      const workload = new Workload(scalingSettings({ idleAfterMs: 0, scaleDownDelayMs: MINUTE_MS }), { replicas: 1 });
      workload.state = { panic: { since: T0, lastTriggeredAt: T0 }, recentWanted: [{ at: T0, replicas: 1 }] };
      workload.activity.record({ at: T0, inFlight: 0 });
      expect(workload.tick()).to.deep.include({ desiredReplicas: 0, state: { lastWakeAt: undefined, recentWanted: [] } });
    });
  });

  describe('traffic ebb does not see', () => {
    const unobserved = (settings = scalingSettings(), options: ConstructorParameters<typeof Workload>[1] = { replicas: 1 }) => {
      const workload = new Workload(settings, options);
      workload.trafficObserved = false;
      return workload;
    };

    it('never ebbs to zero: past idle-after it holds one replica and says why', () => {
      const workload = unobserved();
      workload.run(2 * SECOND_MS, 1); // the last request ebb saw
      const decisions = workload.run(20 * MINUTE_MS, 0);
      expect(replicasOf(decisions)).to.deep.equal(Array(600).fill(1));
      expect(reasonOf(decisions[448]!)).to.deep.equal(['steady', 'holding 1: 0 in flight, target 10 per pod']);
      expect(reasonOf(decisions[449]!)).to.deep.equal([
        'unobserved',
        'holding 1: ebb does not see all of its traffic, so it is never idle (load wants 0: 0 in flight, target 10 per pod)',
      ]);
      expect(reasonOf(decisions.at(-1)!)).to.deep.equal(reasonOf(decisions[449]!));
    });

    it('names itself, not a scale-down delay that would end, as what holds the one replica', () => {
      // After a controller restart the delay counts the current replica as wanted: it would hold it too.
      const workload = unobserved(scalingSettings({ idleAfterMs: 4 * SECOND_MS, scaleDownDelayMs: 5 * MINUTE_MS }));
      const decisions = workload.run(10 * SECOND_MS, 0);
      expect(decisions.map(reasonOf)).to.deep.equal([
        ...Array<[string, string]>(2).fill(['steady', 'holding 1: 0 in flight, target 10 per pod']),
        // idle-after has passed (4 s since the first sample)
        ...Array<[string, string]>(3).fill([
          'unobserved',
          'holding 1: ebb does not see all of its traffic, so it is never idle (load wants 0: 0 in flight, target 10 per pod)',
        ]),
      ]);
    });

    it('ebbs to zero on the first tick after its traffic is seen again, idle-after having passed', () => {
      const workload = unobserved();
      workload.run(20 * MINUTE_MS, 0);
      workload.trafficObserved = true;
      const [decision] = workload.run(2 * SECOND_MS, 0);
      // no request was ever seen: idleness counts from the first sample
      expect(reasonOf(decision!)).to.deep.equal(['idle', '1 → 0: no request for 20m (idle-after 15m)']);
    });

    it('still scales up on the load it does see, and back down to one', () => {
      const workload = unobserved(scalingSettings({ idleAfterMs: 0 }));
      const busy = workload.run(2 * SECOND_MS, 42);
      expect(reasonOf(busy[0]!)).to.deep.equal(['panic', '1 → 5: panic, 42 in flight, target 10 per pod']);
      const quiet = workload.run(3 * MINUTE_MS, 0);
      expect(quiet.at(-1)?.desiredReplicas).to.equal(1);
      expect(quiet.at(-1)?.reason.code).to.equal('unobserved');
    });

    it('brings a workload at zero back to one replica, even before any activity data', () => {
      const workload = unobserved(scalingSettings(), { replicas: 0 });
      expect(reasonOf(workload.tick())).to.deep.equal(['unobserved', '0 → 1: ebb does not see all of its traffic, so it is never idle']);
    });

    it('gives way to a higher floor and to a wake-up', () => {
      const min = unobserved(scalingSettings({ minReplicas: 2 }), { replicas: 0 });
      expect(reasonOf(min.tick())).to.deep.equal(['min', '0 → 2: min-replicas 2']);
      const woken = unobserved(scalingSettings(), { replicas: 0 });
      expect(reasonOf(woken.tick({ wake: true }))).to.deep.equal(['wake', '0 → 1: a request is waiting at the activator']);
    });
  });

  describe('keep-warm', () => {
    // Monday 1 June 2026, 18:00 in Berlin (CEST)
    const sixPmBerlin = Date.UTC(2026, 5, 1, 16);

    it('holds its floor while idle, ebbs when the window closes, and wakes when it opens', () => {
      const workload = new Workload(scalingSettings({ keepWarm: [officeHours(2)] }), { replicas: 2, now: sixPmBerlin });
      workload.run(2 * SECOND_MS, 1);
      const evening = workload.run(60 * MINUTE_MS - 2 * SECOND_MS, 0);
      expect(reasonOf(evening.at(-2)!)).to.deep.equal([
        'keep-warm',
        'holding 2: keep-warm Mon-Fri 08:00-19:00 Europe/Berlin replicas=2 (load wants 0: 0 in flight, target 10 per pod)',
      ]);
      expect(reasonOf(evening.at(-1)!)).to.deep.equal(['idle', '2 → 0: no request for 59m58s (idle-after 15m)']);

      workload.now = Date.UTC(2026, 5, 2, 5, 59, 56); // Tuesday 07:59:56 in Berlin
      const morning = workload.run(4 * SECOND_MS, 0);
      expect(morning.map(reasonOf)).to.deep.equal([
        ['idle', 'holding 0: no request for 13h59m56s (idle-after 15m)'],
        ['keep-warm', '0 → 2: keep-warm Mon-Fri 08:00-19:00 Europe/Berlin replicas=2 (load wants 0: 0 in flight, target 10 per pod)'],
      ]);
    });

    it('raises the floor above min-replicas but not above max-replicas', () => {
      const settings = scalingSettings({ minReplicas: 1, maxReplicas: 3, keepWarm: [officeHours(5)] });
      const workload = new Workload(settings, { replicas: 1, now: sixPmBerlin });
      const [decision] = workload.run(2 * SECOND_MS, 0);
      expect(reasonOf(decision!)).to.deep.equal([
        'keep-warm',
        '1 → 3: keep-warm Mon-Fri 08:00-19:00 Europe/Berlin replicas=5 (load wants 1: 0 in flight, target 10 per pod)',
      ]);
    });
  });

  describe('without fresh data', () => {
    it('takes no action before the first sample', () => {
      const workload = new Workload(scalingSettings(), { replicas: 3 });
      expect(workload.tick()).to.deep.equal({
        desiredReplicas: null,
        reason: { code: 'no-data', message: 'no action: no activity samples yet' },
        state: INITIAL_DECIDER_STATE,
      });
    });

    it('treats a newest sample older than staleAfterMs as no data', () => {
      const workload = new Workload(scalingSettings(), { replicas: 3 });
      workload.activity.record({ at: T0, inFlight: 0 });
      workload.now = T0 + 7 * SECOND_MS;
      expect(reasonOf(workload.tick())).to.deep.equal(['no-data', 'no action: newest activity sample is 7s old (stale after 6s)']);
      expect(workload.replicas).to.equal(3);
      workload.now = T0 + 6 * SECOND_MS;
      expect(workload.tick().desiredReplicas).to.equal(1);
    });

    it('never ebbs to zero, however long since the last request', () => {
      const workload = new Workload(scalingSettings(), { replicas: 1, lastRequestAt: T0 - 60 * MINUTE_MS });
      workload.activity.record({ at: T0 - 10 * SECOND_MS, inFlight: 0 });
      expect(workload.tick().desiredReplicas).to.equal(null);
    });

    it('still enforces the floor and the ceiling', () => {
      const atZero = new Workload(scalingSettings({ minReplicas: 2 }), { replicas: 0 });
      expect(reasonOf(atZero.tick())).to.deep.equal(['min', '0 → 2: min-replicas 2']);
      const aboveMax = new Workload(scalingSettings(), { replicas: 12 });
      expect(reasonOf(aboveMax.tick())).to.deep.equal(['max', '12 → 10: max-replicas 10']);
      const morning = new Workload(scalingSettings({ keepWarm: [officeHours(2)] }), { replicas: 0 });
      expect(reasonOf(morning.tick())).to.deep.equal(['keep-warm', '0 → 2: keep-warm Mon-Fri 08:00-19:00 Europe/Berlin replicas=2']);
    });
  });

  describe('paused', () => {
    it('takes no action and keeps the state as it was, even for a wake-up', () => {
      const state = { panic: { since: T0, lastTriggeredAt: T0 } };
      const activity = new ActivityWindow();
      activity.record({ at: T0, inFlight: 500 });
      const decision = decide({
        settings: scalingSettings({ paused: true, minReplicas: 3 }),
        currentReplicas: 0,
        activity,
        now: T0,
        state,
        wake: true,
      });
      expect(decision).to.deep.equal({ desiredReplicas: null, reason: { code: 'paused', message: 'no action: paused' }, state });
      expect(decision.state).to.equal(state);
    });
  });

  describe('wake-up', () => {
    it('brings a workload at zero to one replica without activity data', () => {
      const workload = new Workload(scalingSettings(), { replicas: 0, lastRequestAt: T0 - 60 * MINUTE_MS });
      const decision = workload.tick({ wake: true });
      expect(reasonOf(decision)).to.deep.equal(['wake', '0 → 1: a request is waiting at the activator']);
      expect(decision.state.lastWakeAt).to.equal(T0);
    });

    it('counts as a request, so the next ticks do not send it back to zero', () => {
      const workload = new Workload(scalingSettings(), { replicas: 0, lastRequestAt: T0 - 60 * MINUTE_MS });
      const [idle] = workload.run(2 * SECOND_MS, 0);
      expect(reasonOf(idle!)).to.deep.equal(['idle', 'holding 0: no request for 1h2s (idle-after 15m)']);
      expect(reasonOf(workload.tick({ wake: true }))).to.deep.equal([
        'wake',
        '0 → 1: a request is waiting at the activator (load wants 0: 0 in flight, target 10 per pod)',
      ]);
      const decisions = workload.run(15 * MINUTE_MS, 0);
      expect(reasonOf(decisions[0]!)).to.deep.equal(['steady', 'holding 1: 0 in flight, target 10 per pod']);
      expect(reasonOf(decisions.at(-1)!)).to.deep.equal(['idle', '1 → 0: no request for 15m (idle-after 15m)']);
    });

    it('raises to min-replicas when that is higher', () => {
      const workload = new Workload(scalingSettings({ minReplicas: 3 }), { replicas: 0 });
      expect(reasonOf(workload.tick({ wake: true }))).to.deep.equal(['min', '0 → 3: min-replicas 3']);
    });
  });
});
