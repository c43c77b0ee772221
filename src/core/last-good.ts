// "An invalid value is never silently ignored, and the workload keeps its last valid settings":
// the resolver skips a rejected value and falls through to the next level; where this workload
// had a value for that setting before, that last value is kept instead.

import type { ConfigError, ResolvedSettings } from './setting-schema.ts';

export function keepLastGood(resolved: ResolvedSettings, errors: readonly ConfigError[], lastGood: ResolvedSettings | undefined): ResolvedSettings {
  if (!lastGood || errors.length === 0) return resolved;
  const kept: Record<string, unknown> = { ...resolved };
  for (const error of errors) {
    if (error.setting !== undefined) kept[error.setting] = lastGood[error.setting];
  }
  return kept as ResolvedSettings;
}
