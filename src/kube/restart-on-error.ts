// client-node's informers (ListWatch) report a failed list or a broken watch once, on 'error', and
// then stay stopped. A program must not go blind for good because the API server restarted: this
// starts the informer again after a pause, for as long as its owner has not stopped it (stopping
// aborts the watch, which raises 'error' too, and must not bring the informer back).

import type { Informer, KubernetesObject } from '@kubernetes/client-node';

export function restartOnError<T extends KubernetesObject>(
  informer: Informer<T>,
  options: { what: string; isStopped: () => boolean; log?: (message: string) => void; delayMs?: number },
): void {
  let timer: NodeJS.Timeout | undefined;
  informer.on('error', (error: unknown) => {
    if (options.isStopped()) return;
    options.log?.(`${options.what} failed, restarting: ${String(error)}`);
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!options.isStopped()) void informer.start().catch(() => undefined);
    }, options.delayMs ?? 3_000);
    timer.unref();
  });
}
