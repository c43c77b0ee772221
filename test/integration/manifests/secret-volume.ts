// What the kubelet does for a pod's Secret volume, played for a program run as a local process:
// the Secret read through the API (as the kubelet's cache does, here polled every intervalMs),
// a change applied delayMs after it is seen (the kubelet's sync period and cache make that up to
// a minute or two; a test passes a few seconds so that what depends on it is exercised), and
// its keys written as files the way the kubelet's atomic writer does it: a new timestamped
// directory with every file, then the `..data` symlink swapped to it in one rename, the files
// themselves symlinks through `..data`. A reader sees the old pair or the new one, never half.
// An absent Secret leaves the directory empty (an optional volume).

import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

export interface SecretVolume {
  /** How many times the files were (re)written. */
  updates(): number;
  stop(): Promise<void>;
}

export function playSecretVolume(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
  dir: string,
  options: { intervalMs?: number; delayMs?: number } = {},
): SecretVolume {
  const { intervalMs = 500, delayMs = 0 } = options;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  mkdirSync(dir, { recursive: true });
  let updates = 0;
  let stopped = false;

  const write = (data: Record<string, string>) => {
    const version = join(dir, `..${Date.now()}.${updates}`);
    mkdirSync(version);
    for (const [key, value] of Object.entries(data)) writeFileSync(join(version, key), Buffer.from(value, 'base64'), { mode: 0o600 });
    const previous = existsSync(join(dir, '..data')) ? readlinkSync(join(dir, '..data')) : undefined;
    symlinkSync(version.slice(dir.length + 1), join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    for (const key of Object.keys(data)) if (!existsSync(join(dir, key))) symlinkSync(join('..data', key), join(dir, key));
    if (previous) rmSync(join(dir, previous), { recursive: true, force: true });
    updates++;
  };

  let seen = '';
  const pending: { data: Record<string, string>; at: number }[] = [];
  const poll = (async () => {
    while (!stopped) {
      const secret = await core.readNamespacedSecret({ name, namespace }).catch(() => undefined);
      const text = JSON.stringify(secret?.data ?? null);
      if (secret?.data && text !== seen) {
        pending.push({ data: secret.data, at: Date.now() + delayMs });
        seen = text;
      }
      while (pending[0] && pending[0].at <= Date.now()) write(pending.shift()!.data);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    updates: () => updates,
    stop: async () => {
      stopped = true;
      await poll;
    },
  };
}
