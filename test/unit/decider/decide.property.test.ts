import { expect } from 'chai';
import fc from 'fast-check';
import { ActivityWindow } from '../../../src/core/decider/activity-window.ts';
import { decide, INITIAL_DECIDER_STATE, type DeciderState } from '../../../src/core/decider/decide.ts';
import { keepWarmFloor } from '../../../src/core/keep-warm-schedule.ts';
import type { KeepWarmWindow, ScalingSettings, Weekday } from '../../../src/core/settings.ts';

const MINUTE_MS = 60_000;
/** true one time in `outOf`. */
const rarely = (outOf: number): fc.Arbitrary<boolean> =>
  fc.oneof({ weight: outOf - 1, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

const keepWarmWindow: fc.Arbitrary<KeepWarmWindow> = fc.record({
  days: fc.subarray<Weekday>([0, 1, 2, 3, 4, 5, 6], { minLength: 1 }),
  startMinute: fc.integer({ min: 0, max: 1439 }),
  endMinute: fc.integer({ min: 0, max: 1440 }),
  timeZone: fc.constantFrom('Europe/Berlin', 'UTC', 'America/New_York', 'Asia/Kolkata'),
  replicas: fc.integer({ min: 0, max: 25 }),
});

const settings: fc.Arbitrary<ScalingSettings> = fc
  .record({
    minReplicas: fc.integer({ min: 0, max: 5 }),
    extraReplicas: fc.integer({ min: 0, max: 15 }),
    targetConcurrency: fc.integer({ min: 1, max: 50 }),
    idleAfterMs: fc.integer({ min: 0, max: 20 * MINUTE_MS }),
    scaleDownDelayMs: fc.integer({ min: 0, max: 5 * MINUTE_MS }),
    keepWarm: fc.array(keepWarmWindow, { maxLength: 2 }),
    paused: rarely(10),
  })
  .map(({ extraReplicas, ...rest }) => ({ ...rest, maxReplicas: Math.max(1, rest.minReplicas + extraReplicas) }));

/** One tick: time passes (sometimes past the stale limit), agents may report, the decider decides. */
const step = fc.record({
  elapsedMs: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 20 * MINUTE_MS })),
  report: rarely(5).map((missed) => !missed),
  inFlight: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 })),
  newRequest: fc.boolean(),
  wake: rarely(10),
  trafficObserved: rarely(4).map((unobserved) => !unobserved),
  notReady: fc.integer({ min: 0, max: 3 }),
});

describe('decide, for any settings and any activity', () => {
  it('stays within [floor, max], never goes negative, and never ebbs to zero with a request in flight or traffic it does not see', () => {
    fc.assert(
      fc.property(
        settings,
        fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2027, 0, 1) }),
        fc.integer({ min: 0, max: 20 }),
        fc.array(step, { minLength: 1, maxLength: 60 }),
        (scaling, start, initialReplicas, steps) => {
          const activity = new ActivityWindow();
          let now = start;
          let replicas = initialReplicas;
          let state: DeciderState = INITIAL_DECIDER_STATE;
          let latestInFlight = 0;
          for (const { elapsedMs, report, inFlight, newRequest, wake, trafficObserved, notReady } of steps) {
            now += elapsedMs;
            if (report) {
              activity.record({ at: now, inFlight, lastRequestAt: newRequest ? now : undefined });
              latestInFlight = inFlight;
            }
            const readyReplicas = Math.max(0, replicas - notReady);
            const decision = decide({ settings: scaling, currentReplicas: replicas, readyReplicas, activity, now, state, wake, trafficObserved });
            const desired = decision.desiredReplicas;
            state = decision.state;

            if (scaling.paused) {
              expect(desired).to.equal(null);
              continue;
            }
            if (desired === null) {
              expect(decision.reason.code).to.equal('no-data');
              continue;
            }
            const floor = Math.max(scaling.minReplicas, keepWarmFloor(scaling.keepWarm, now).replicas, wake || !trafficObserved ? 1 : 0);
            expect(Number.isInteger(desired), decision.reason.message).to.equal(true);
            expect(desired, decision.reason.message).to.be.at.least(Math.min(floor, scaling.maxReplicas));
            expect(desired, decision.reason.message).to.be.at.most(scaling.maxReplicas);
            if (latestInFlight > 0) expect(desired, decision.reason.message).to.be.above(0);
            if (desired === 0 && replicas > 0) expect(decision.reason.code).to.equal('idle');
            replicas = desired;
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
