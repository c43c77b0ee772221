// What the webhook recorded in an injected pod's `ebb.dev/injected` (InjectedRecord in
// ../mutation.ts): the workload it serves, and the injection's version. A pod without the
// annotation, or with one that does not name a workload, is not ebb's to measure.

import { INJECTED_ANNOTATION } from '../annotations.ts';
import { parseWorkloadKey, type WorkloadKey } from '../../protocol/workload.ts';

/** One field of the record; undefined when there is no record or it is not JSON. */
function recordField(annotations: Readonly<Record<string, string>> | undefined, field: 'workload' | 'v'): unknown {
  const text = annotations?.[INJECTED_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const record: unknown = JSON.parse(text);
    return typeof record === 'object' && record !== null ? (record as Record<string, unknown>)[field] : undefined;
  } catch {
    return undefined;
  }
}

export function injectedWorkload(annotations: Readonly<Record<string, string>> | undefined): WorkloadKey | undefined {
  const workload = recordField(annotations, 'workload');
  return typeof workload === 'string' ? parseWorkloadKey(workload) : undefined;
}

/** The record's `v` (INJECTION_VERSION when it was written), when it has one. */
export function injectionVersion(annotations: Readonly<Record<string, string>> | undefined): number | undefined {
  const version = recordField(annotations, 'v');
  return typeof version === 'number' ? version : undefined;
}
