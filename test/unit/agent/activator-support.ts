// What the activator's in-process tests share: backends made ready by hand, and a Service port to hold for.

import { targetKey, type SleepingService } from '../../../src/core/activity/route.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import type { Backend, BackendSource } from '../../../agent/node/activator/directory.ts';

/** Backends the test makes ready by hand; records who waits for which target. */
export class HandBackends implements BackendSource {
  readonly waits: string[] = [];
  private readonly callbacks = new Map<string, (backend: Backend) => void>();

  whenReady(target: SleepingService, callback: (backend: Backend) => void): () => void {
    const key = targetKey(target);
    this.waits.push(key);
    this.callbacks.set(key, callback);
    return () => this.callbacks.delete(key);
  }

  markReady(target: SleepingService, backend: Backend): void {
    const callback = this.callbacks.get(targetKey(target));
    this.callbacks.delete(targetKey(target));
    callback?.(backend);
  }
}

export const target = (workload: WorkloadKey, portName = 'http'): SleepingService => {
  const [namespace = '', name = ''] = workload.split('/');
  return { workload, service: { namespace, name }, portName };
};
