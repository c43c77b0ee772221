// The workload an injected pod serves, as the webhook recorded it in `ebb.dev/injected`
// (InjectedRecord in ../mutation.ts). A pod without the annotation, or with one that does not
// name a workload, is not ebb's to measure.

import { INJECTED_ANNOTATION } from '../annotations.ts';
import { parseWorkloadKey, type WorkloadKey } from '../../protocol/workload.ts';

export function injectedWorkload(annotations: Readonly<Record<string, string>> | undefined): WorkloadKey | undefined {
  const text = annotations?.[INJECTED_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const record: unknown = JSON.parse(text);
    const workload = typeof record === 'object' && record !== null ? (record as { workload?: unknown }).workload : undefined;
    return typeof workload === 'string' ? parseWorkloadKey(workload) : undefined;
  } catch {
    return undefined;
  }
}
