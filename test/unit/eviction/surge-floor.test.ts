// The horizontal decider's side of a surge: the disruption manager asks for one replica more while
// a single-replica workload's pod is replaced; the decider holds it (named), and lets it go after.
import { expect } from 'chai';
import { ActivityWindow, decide, INITIAL_DECIDER_STATE, type DecideInput, type DeciderState, type Decision } from '../../../src/core/decider/index.ts';
import type { ScalingSettings } from '../../../src/core/settings.ts';
import { MINUTE_MS, SECOND_MS, T0 } from './cluster.ts';

const settings: ScalingSettings = {
  minReplicas: 0,
  maxReplicas: 10,
  targetConcurrency: 10,
  idleAfterMs: 15 * MINUTE_MS,
  scaleDownDelayMs: 5 * MINUTE_MS,
  keepWarm: [],
  paused: false,
};
const surge = { replicas: 2, why: 'one replica more while pod shop/web-0 is replaced' };

/** Decides every 2 s, applying each decision; agents report `inFlight` when `report` is set. */
class Ticker {
  now = T0;
  replicas = 1;
  state: DeciderState = INITIAL_DECIDER_STATE;
  readonly activity = new ActivityWindow({ lastRequestAt: T0 });

  tick(input: Partial<DecideInput> & { report?: number } = {}): Decision {
    this.now += 2 * SECOND_MS;
    if (input.report !== undefined) this.activity.record({ at: this.now, inFlight: input.report, lastRequestAt: input.report > 0 ? this.now : undefined });
    const decision = decide({ settings, currentReplicas: this.replicas, activity: this.activity, now: this.now, state: this.state, ...input });
    this.state = decision.state;
    if (decision.desiredReplicas !== null) this.replicas = decision.desiredReplicas;
    return decision;
  }
}

const said = (decision: Decision) => [decision.reason.code, decision.reason.message];

describe('the decider under a surge', () => {
  it('holds one replica more while the surge lasts, against a load that wants one, and returns at once after (no scale-down delay: the load never wanted it)', () => {
    const ticker = new Ticker();
    expect(said(ticker.tick({ report: 3, surge }))).to.deep.equal([
      'surge',
      '1 → 2: one replica more while pod shop/web-0 is replaced (load wants 1: 3 in flight, target 10 per pod)',
    ]);
    for (let tick = 0; tick < 30; tick++) expect(ticker.tick({ report: 3, surge }).desiredReplicas).to.equal(2);
    expect(said(ticker.tick({ report: 3 }))).to.deep.equal(['load', '2 → 1: 3 in flight, target 10 per pod']);
  });

  it('is never idle while the surge lasts', () => {
    const ticker = new Ticker();
    ticker.now += 20 * MINUTE_MS;
    expect(said(ticker.tick({ report: 0, surge }))).to.deep.equal([
      'surge',
      '1 → 2: one replica more while pod shop/web-0 is replaced (load wants 0: 0 in flight, target 10 per pod)',
    ]);
    expect(said(ticker.tick({ report: 0 }))).to.deep.equal(['idle', '2 → 0: no request for 20m4s (idle-after 15m)']);
  });

  it('without activity data raises for the surge and returns to the count it began from', () => {
    const ticker = new Ticker();
    expect(said(ticker.tick({ surge }))).to.deep.equal(['surge', '1 → 2: one replica more while pod shop/web-0 is replaced']);
    expect(said(ticker.tick({ surge }))).to.deep.equal(['no-data', 'no action: no activity samples yet']);
    expect(ticker.replicas).to.equal(2);
    expect(said(ticker.tick())).to.deep.equal(['surge', '2 → 1: the surge replica is no longer needed']);
    expect(said(ticker.tick())).to.deep.equal(['no-data', 'no action: no activity samples yet']);

    // A surge that began at 3 (the load's count) ends at 3.
    ticker.replicas = 3;
    ticker.tick({ surge: { replicas: 4, why: 'one replica more' } });
    expect(ticker.replicas).to.equal(4);
    expect(ticker.tick().desiredReplicas).to.equal(3);
  });

  it('stays within max-replicas', () => {
    const ticker = new Ticker();
    const decision = decide({
      settings: { ...settings, maxReplicas: 1 },
      currentReplicas: 1,
      activity: ticker.activity,
      now: T0,
      state: INITIAL_DECIDER_STATE,
      surge,
    });
    expect(decision.desiredReplicas).to.equal(null);
  });
});
