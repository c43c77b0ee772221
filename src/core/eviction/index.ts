// The eviction planner and the repair of pods that missed the webhook: call planEvictions() each
// round with the state it returned last time, record each eviction's outcome with recordEvicted()
// or recordRefused(), and plan again.
export { planEvictions } from './plan.ts';
export type { Plan, PlanInput, Waiting } from './plan.ts';
export { INITIAL_EVICTION_STATE, recordEvicted, recordRefused, REFUSAL_BACKOFF, SURGE_READY_TIMEOUT_MS } from './state.ts';
export type { EvictionState, Refusal, Surge } from './state.ts';
export type { EvictionCandidate, PodState, WorkloadPods } from './types.ts';
export { chooseRepairs, INITIAL_REPAIR_STATE, REPAIR_PRIORITY, REPAIR_PROBE_AFTER_MS, repairReason } from './repair.ts';
export type { RepairChoice, RepairPod, RepairState } from './repair.ts';
