import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import {
  chooseRepairs,
  INITIAL_REPAIR_STATE,
  REPAIR_PROBE_AFTER_MS,
  repairReason,
  type RepairPod,
  type RepairState,
} from '../../../src/core/eviction/index.ts';
import { INJECTED_ANNOTATION } from '../../../src/core/annotations.ts';
import { INJECTION_VERSION } from '../../../src/core/mutation.ts';
import { SIDECAR_NAME } from '../../../src/protocol/sidecar.ts';
import { slimPod } from '../../../src/core/resize/slim-pod.ts';
import { MINUTE_MS, SECOND_MS, T0 } from './cluster.ts';

const record = (fields: Record<string, unknown>) => ({
  [INJECTED_ANNOTATION]: JSON.stringify({ v: INJECTION_VERSION, workload: 'shop/web', settings: {}, sidecar: 'injected', ...fields }),
});

/** A pod of shop/web as the controller keeps it (slim), from the pod the API server would hold. */
function repairPod(
  name: string,
  createdAt: number,
  options: { annotations?: Record<string, string>; sidecar?: boolean; templateInjected?: boolean } = {},
): RepairPod {
  const pod: V1Pod = {
    metadata: { name, namespace: 'shop', uid: name, creationTimestamp: new Date(createdAt), annotations: options.annotations },
    spec: {
      containers: [{ name: 'app', image: 'registry.example/app:1' }],
      initContainers: options.sidecar ? [{ name: SIDECAR_NAME, image: 'ebb', restartPolicy: 'Always' }] : [],
    },
  };
  return { pod: slimPod(pod, 'shop/web'), templateInjected: options.templateInjected ?? false };
}
const injected = (name: string, createdAt: number, fields: Record<string, unknown> = {}) =>
  repairPod(name, createdAt, { annotations: record(fields), sidecar: true });
const missed = (name: string, createdAt: number) => repairPod(name, createdAt);
const offered = (pods: readonly RepairPod[], state: RepairState = INITIAL_REPAIR_STATE, now = T0) => {
  const choice = chooseRepairs(pods, state, now);
  return { pods: choice.offer.map((offer) => offer.pod.uid), state: choice.state, held: choice.held };
};

describe('repair', () => {
  describe('repairReason', () => {
    it('names a pod created without ebb, and one with an older injection', () => {
      expect(repairReason(missed('web-0', T0))).to.equal(
        "was created without ebb's sidecar (while the webhook was down, which fails open, or before the workload was opted in)",
      );
      expect(repairReason(injected('web-0', T0, { v: INJECTION_VERSION - 1 }))).to.equal(
        `carries ebb's injection v${INJECTION_VERSION - 1}; the current is v${INJECTION_VERSION}`,
      );
    });

    it('leaves pods a replacement would not improve: current, no sidecar by choice, a dry run, a template carrying the annotation', () => {
      expect(repairReason(injected('web-0', T0))).to.equal(undefined);
      expect(repairReason(repairPod('web-0', T0, { annotations: record({ sidecar: 'none: no container port to intercept' }) }))).to.equal(undefined);
      expect(repairReason(repairPod('web-0', T0, { annotations: record({ dryRun: true }) }))).to.equal(undefined);
      expect(repairReason(repairPod('web-0', T0, { templateInjected: true }))).to.equal(undefined);
      expect(repairReason(repairPod('web-0', T0, { annotations: { [INJECTED_ANNOTATION]: 'not json' } }))).to.equal(undefined);
      expect(repairReason(repairPod('web-0', T0, { sidecar: true }))).to.equal(undefined);
    });
  });

  describe('chooseRepairs', () => {
    it('offers every pod that needs repair once a pod newer than they are was injected', () => {
      const pods = [missed('web-0', T0), missed('web-1', T0 + SECOND_MS), injected('other-0', T0 + SECOND_MS), injected('other-1', T0 - MINUTE_MS)];
      expect(offered(pods).pods).to.deep.equal(['web-0', 'web-1']);
    });

    it('while no pod was injected after the newest that missed the webhook, replaces nothing, then one pod as a probe once that one is 10 min old', () => {
      const pods = [missed('web-0', T0), missed('web-1', T0 + SECOND_MS), injected('other-0', T0 - MINUTE_MS)];
      const quiet = offered(pods, INITIAL_REPAIR_STATE, T0 + SECOND_MS + REPAIR_PROBE_AFTER_MS - 1);
      expect(quiet.pods).to.deep.equal([]);
      expect(quiet.held).to.equal(
        'no pod was injected since one missed the webhook: waiting for one that is (a sign that it answers again), or for a probe at 2026-12-01T12:10:01.000Z',
      );
      const first = offered(pods, quiet.state, T0 + SECOND_MS + REPAIR_PROBE_AFTER_MS);
      expect(first.pods).to.deep.equal(['web-0']);
      expect(first.held).to.equal('no pod was injected since one missed the webhook: replacing only shop/web-0 to see whether it answers again');
      // Offered until it is gone, however long that takes.
      expect(offered(pods, first.state, T0 + 30 * MINUTE_MS).pods).to.deep.equal(['web-0']);

      // Its replacement missed the webhook too: still down; the next probe 10 min after that one.
      const stillDown = [missed('web-1', T0 + SECOND_MS), missed('web-2', T0 + 31 * MINUTE_MS), injected('other-0', T0 - MINUTE_MS)];
      expect(offered(stillDown, first.state, T0 + 31 * MINUTE_MS).pods).to.deep.equal([]);
      expect(offered(stillDown, first.state, T0 + 41 * MINUTE_MS - 1).pods).to.deep.equal([]);
      expect(offered(stillDown, first.state, T0 + 41 * MINUTE_MS).pods).to.deep.equal(['web-1']);

      // A pod injected after them: the webhook answers, every pod goes.
      const answering = [missed('web-1', T0 + SECOND_MS), missed('web-2', T0 + 31 * MINUTE_MS), injected('other-1', T0 + 32 * MINUTE_MS)];
      expect(offered(answering, first.state, T0 + 32 * MINUTE_MS).pods).to.deep.equal(['web-1', 'web-2']);
    });

    it('offers pods with an older injection whatever the newest pods show: the webhook answered for them', () => {
      const old = injected('web-0', T0 + MINUTE_MS, { v: INJECTION_VERSION - 1 });
      expect(offered([old, injected('web-1', T0)]).pods).to.deep.equal(['web-0']);
    });
  });
});
