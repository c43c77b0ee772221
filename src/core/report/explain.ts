// `kubectl ebb explain`: every setting of one workload with its value and the level it came from,
// the values that were not accepted, and ebb's recent decisions about it. Built on the resolver
// the webhook and the controller use (workload-settings.ts), so the explanation cannot disagree
// with what ebb does. Pure: the CLI reads the objects.
import type { OptInDecision } from '../opt-in.ts';
import type { Resolution } from '../resolve.ts';
import { formatSetting, SETTING_NAMES, type ConfigError, type SettingName } from '../setting-schema.ts';

export interface SettingLine {
  setting: SettingName;
  /** The value in annotation form; `-` when nothing sets an optional setting. */
  value: string;
  /** `pod template`, `Deployment web`, `Namespace shop`, `policy rule for shop`, `policy defaults`, `built-in default`, or why unset. */
  source: string;
}

/** What an unset optional setting means. */
const UNSET: Partial<Record<SettingName, string>> = {
  'cpu-min': 'not set: no lower bound',
  'cpu-max': 'not set: no upper bound',
  'memory-min': 'not set: no lower bound',
  'memory-max': 'not set: no upper bound',
  port: 'not set: the port named http, else the first',
};

export function settingLines(optIn: OptInDecision, resolution: Resolution | undefined): SettingLine[] {
  const enabled: SettingLine = { setting: 'enabled', value: String(optIn.inject), source: optIn.reason };
  if (!resolution) return [enabled];
  return [
    enabled,
    ...SETTING_NAMES.filter((name) => name !== 'enabled').map((setting) => {
      const value = resolution.settings[setting];
      if (value === undefined) return { setting, value: '-', source: UNSET[setting] ?? 'not set' };
      const text = formatSetting(setting, value as never);
      return { setting, value: text === '' ? 'none' : text, source: resolution.sources[setting] ?? 'built-in default' };
    }),
  ];
}

export interface InvalidValue {
  key: string;
  value: string;
  /** Names the key, the value and what is accepted. */
  message: string;
}

export const invalidValues = (errors: readonly ConfigError[]): InvalidValue[] => errors.map(({ key, value, message }) => ({ key, value, message }));

/** An Event as the CLI read it. */
export interface EventFacts {
  /** ISO time of the last occurrence. */
  at: string;
  type: string;
  reason: string;
  /** `Deployment web`, `Pod web-5d8f-x2x`. */
  object: string;
  message: string;
  count: number;
}

/** The newest `limit` Events, newest first. */
export function recentDecisions(events: readonly EventFacts[], limit: number): EventFacts[] {
  return [...events].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, limit);
}
