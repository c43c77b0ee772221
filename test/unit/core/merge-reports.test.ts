import { expect } from 'chai';
import { mergeReports } from '../../../src/core/activity/merge-reports.ts';
import { activityColumns, type WorkloadActivity } from '../../../src/protocol/activity.ts';

const workload = (key: `${string}/${string}`, figures: Partial<WorkloadActivity>): WorkloadActivity => ({
  workload: key,
  inFlight: 0,
  meanInFlight: 0,
  requestRate: 0,
  lastRequestAt: null,
  held: 0,
  stalePods: 0,
  pods: [],
  ...figures,
});
const report = (node: string, workloads: WorkloadActivity[]) => activityColumns({ node, generatedAt: 0, windowMs: 1000, workloads });

describe("merging agents' activity reports", () => {
  it('adds up concurrency (mean in flight plus held) and rates across nodes; keeps the latest request', () => {
    const merged = mergeReports(
      [
        report('a', [workload('shop/web', { meanInFlight: 2.5, requestRate: 10, lastRequestAt: 1000 }), workload('shop/api', { held: 3 })]),
        report('b', [workload('shop/web', { meanInFlight: 1.5, held: 1, requestRate: 5, lastRequestAt: 2000 })]),
      ],
      5000,
    );
    expect(merged.get('shop/web')).to.deep.equal({ at: 5000, inFlight: 5, requestRate: 15, lastRequestAt: 2000 });
    expect(merged.get('shop/api')).to.deep.equal({ at: 5000, inFlight: 3, requestRate: 0 });
  });

  it('gives no sample for a workload no agent reports', () => {
    expect(mergeReports([report('a', [])], 1).size).to.equal(0);
  });
});
