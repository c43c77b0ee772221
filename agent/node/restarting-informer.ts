// A ListWatch (client-node's informer cache) that comes back after it fails. ListWatch reports a
// failed list or a broken watch once on 'error' and then stays stopped; an agent must not go blind
// for good because the API server restarted, so it starts again after a pause. stop() is final:
// aborting the watch also raises 'error', which must not bring a stopped informer back.

import type { KubernetesObject, ListWatch } from '@kubernetes/client-node';

const RESTART_AFTER_MS = 2_000;

export class RestartingInformer<T extends KubernetesObject> {
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly cache: ListWatch<T>,
    what: string,
  ) {
    cache.on('error', (error: unknown) => {
      if (this.stopped) return;
      console.error(JSON.stringify({ msg: `${what} watch failed; restarting`, error: String(error) }));
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => void this.start(), RESTART_AFTER_MS);
    });
  }

  /** Resolves once the first list is cached and the watch is open (or the attempt failed). */
  start(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.cache.start().catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    void this.cache.stop();
  }
}
