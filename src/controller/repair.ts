// The repair of pods that missed the webhook: each round on the leader, the pods of opted-in
// workloads that lack the sidecar (created while the webhook was down: it fails open) or carry an
// older injection are offered to the disruption manager (source `repair`), which replaces them
// under the same safety rules as any eviction; the replacements go through the webhook. Which
// pods, and the probe while the webhook still seems down, are decided in src/core/eviction/repair.ts.

import { INJECTED_ANNOTATION } from '../core/annotations.ts';
import { chooseRepairs, INITIAL_REPAIR_STATE, type RepairPod, type RepairState } from '../core/eviction/index.ts';
import type { SlimPod } from '../core/resize/slim-pod.ts';
import type { WorkloadKey } from '../protocol/workload.ts';
import type { DisruptionQueue } from './disruption.ts';
import type { Workload } from './workloads.ts';

export interface RepairOptions {
  isLeader(): boolean;
  /** The opted-in workloads, from the caches. */
  workloads(): readonly Workload[];
  podsOf(workload: WorkloadKey): readonly SlimPod[];
  disruptions: DisruptionQueue;
  log(level: 'info' | 'warn', msg: string): void;
}

export class Repair {
  private state: RepairState = INITIAL_REPAIR_STATE;
  /** What was last logged about pods held back, so it is said once. */
  private held: string | undefined;

  constructor(private readonly options: RepairOptions) {}

  round(now: number): void {
    const { options } = this;
    if (!options.isLeader()) {
      this.state = INITIAL_REPAIR_STATE;
      this.held = undefined;
      options.disruptions.offer('repair', []);
      return;
    }
    const pods: RepairPod[] = [];
    for (const workload of options.workloads()) {
      const templateInjected = workload.deployment.spec?.template.metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined;
      for (const pod of options.podsOf(workload.key)) if (!pod.deleting) pods.push({ pod, templateInjected });
    }
    const choice = chooseRepairs(pods, this.state, now);
    this.state = choice.state;
    if (choice.held !== this.held) {
      this.held = choice.held;
      if (choice.held) options.log('warn', `repair: ${choice.held}`);
    }
    options.disruptions.offer(
      'repair',
      choice.offer.map(({ pod, why, priority }) => ({
        workload: pod.workload!,
        pod: `${pod.namespace}/${pod.name}`,
        podUid: pod.uid,
        source: 'repair' as const,
        priority,
        why,
      })),
    );
  }
}
