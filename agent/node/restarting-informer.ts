// A ListWatch (client-node's informer cache) that comes back after it fails (src/kube/
// restart-on-error.ts), with a final stop() and a start() that never rejects.

import type { KubernetesObject, ListWatch } from '@kubernetes/client-node';
import { restartOnError } from '../../src/kube/restart-on-error.ts';
import type { Log } from '../../src/program/log.ts';

const RESTART_AFTER_MS = 2_000;

export class RestartingInformer<T extends KubernetesObject> {
  private stopped = false;

  constructor(
    readonly cache: ListWatch<T>,
    what: string,
    log: Log,
  ) {
    restartOnError(cache, {
      what: `${what} watch`,
      isStopped: () => this.stopped,
      log: (msg) => log('warn', msg),
      delayMs: RESTART_AFTER_MS,
    });
  }

  /** Resolves once the first list is cached and the watch is open (or the attempt failed). */
  start(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.cache.start().catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    void this.cache.stop();
  }
}
