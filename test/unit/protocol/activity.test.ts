import { expect } from 'chai';
import fc from 'fast-check';
import { mergeReports } from '../../../src/core/activity/merge-reports.ts';
import {
  ACTIVITY_COLUMNS_PATH,
  ACTIVITY_TOTALS_PATH,
  activityAnswer,
  activityTotals,
  readActivityColumns,
  type ActivityColumns,
  type ActivityReport,
  type WorkloadActivity,
} from '../../../src/protocol/activity.ts';

const queryOf = (path: string) => new URL(path, 'http://agent').searchParams;
/** What crosses the wire: the answer as JSON, parsed again. */
const sent = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const workloadActivity: fc.Arbitrary<WorkloadActivity> = fc.record({
  workload: fc.constantFrom('shop/web', 'shop/api', 'pay/api', 'ns-1/w-0001'),
  inFlight: fc.nat(1000),
  meanInFlight: fc.double({ min: 0, max: 1000, noNaN: true }),
  requestRate: fc.double({ min: 0, max: 10_000, noNaN: true }),
  lastRequestAt: fc.option(fc.nat(), { nil: null }),
  held: fc.nat(100),
  stalePods: fc.nat(10),
  pods: fc.constant([{ pod: 'shop/web-1', inFlight: 1, stale: false, scrapedAt: 5 }]),
});
const report: fc.Arbitrary<ActivityReport> = fc.record({
  node: fc.constantFrom('node-a', 'node-b'),
  generatedAt: fc.nat(),
  windowMs: fc.constant(10_000),
  workloads: fc.array(workloadActivity, { maxLength: 6 }),
});

describe("the agent's activity answers", () => {
  const example: ActivityReport = {
    node: 'node-a',
    generatedAt: 5000,
    windowMs: 10_000,
    workloads: [
      { workload: 'shop/web', inFlight: 3, meanInFlight: 2.5, requestRate: 10, lastRequestAt: 4000, held: 1, stalePods: 0, pods: [] },
      { workload: 'shop/api', inFlight: 0, meanInFlight: 0, requestRate: 0, lastRequestAt: null, held: 0, stalePods: 2, pods: [] },
    ],
  };

  it('answers the whole report, its totals as objects, or the totals as columns, by the query', () => {
    expect(activityAnswer(example, queryOf('/activity'))).to.equal(example);
    expect(activityAnswer(example, queryOf(ACTIVITY_TOTALS_PATH))).to.deep.equal(activityTotals(example));
    expect(activityAnswer(example, queryOf(ACTIVITY_COLUMNS_PATH))).to.deep.equal({
      node: 'node-a',
      generatedAt: 5000,
      windowMs: 10_000,
      workload: ['shop/web', 'shop/api'],
      inFlight: [3, 0],
      meanInFlight: [2.5, 0],
      requestRate: [10, 0],
      lastRequestAt: [4000, null],
      held: [1, 0],
      stalePods: [0, 2],
    });
  });

  it('reads columns as sent, and the totals as objects that an agent without columns answers, to the same figures', () => {
    fc.assert(
      fc.property(report, (agentReport) => {
        const columns = readActivityColumns(sent(activityAnswer(agentReport, queryOf(ACTIVITY_COLUMNS_PATH)))) as ActivityColumns;
        // An agent that predates the columns ignores `form`: it answers the totals as objects.
        const fromObjects = readActivityColumns(sent(activityAnswer(agentReport, queryOf(ACTIVITY_TOTALS_PATH)))) as ActivityColumns;
        expect(columns).to.deep.equal(fromObjects);
        expect(columns.workload).to.deep.equal(agentReport.workloads.map((w) => w.workload));
        expect(mergeReports([columns], 1)).to.deep.equal(mergeReports([fromObjects], 1));
      }),
    );
  });

  it('refuses what is neither, naming the field, what it holds and what is accepted', () => {
    const columns = sent(activityAnswer(example, queryOf(ACTIVITY_COLUMNS_PATH))) as Record<string, unknown>;
    for (const [value, error] of [
      [null, 'the answer is not a JSON object'],
      ['report', 'the answer is not a JSON object'],
      [{ ...columns, node: 7 }, "node: 7 is not a node's name (a string)"],
      [{ ...columns, held: [1] }, 'held: 1 entries where workload has 2 (one entry per workload)'],
      [{ ...columns, requestRate: undefined }, 'requestRate: no array where workload has 2 (one entry per workload)'],
      [{ ...columns, workload: ['shop/web', 7] }, 'workload[1]: 7 is not a workload key (a string)'],
      [{ ...columns, workload: undefined }, 'workload: missing (columns: an array of workload keys; or totals as objects: workloads)'],
      [
        { node: 'node-a', generatedAt: 0, windowMs: 1, workloads: [{ inFlight: 1 }] },
        "workloads[0]: not a workload's totals (an object with a workload key, a string)",
      ],
    ] as const) {
      expect(readActivityColumns(value)).to.deep.equal({ error });
    }
  });
});
