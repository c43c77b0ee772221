// The `ebb.dev/` annotations: the settings users write on pod templates, Deployments and
// Namespaces, and the keys ebb writes itself. Every `ebb.dev/` key is checked: a typo such as
// `ebb.dev/min-replica` is reported (with the closest known key), never silently ignored.
import { INJECTED_ANNOTATION } from '../protocol/sidecar.ts';
import { formatSettings, isSettingName, parseSetting, SETTING_NAMES, type ConfigError, type SettingName, type SettingsLayer } from './setting-schema.ts';

export const ANNOTATION_PREFIX = 'ebb.dev/';

/** Keys ebb writes: on pods, the version and resolved settings (the webhook → agent contract); on Deployments, the controller's status. */
export { INJECTED_ANNOTATION };
export const STATUS_ANNOTATION = 'ebb.dev/status';
const WRITTEN_BY_EBB = new Set([INJECTED_ANNOTATION, STATUS_ANNOTATION]);

/** The namespace label that opts every Deployment in a namespace in (`enabled`) or out (`disabled`). */
export const INJECTION_LABEL = 'ebb.dev/injection';

export const settingAnnotation = (name: SettingName): string => `${ANNOTATION_PREFIX}${name}`;

const KNOWN_KEYS = [...SETTING_NAMES.map(settingAnnotation), ...WRITTEN_BY_EBB];

/** The settings one object's annotations set, and a ConfigError for each key or value not accepted. */
export interface ParsedLayer {
  values: SettingsLayer;
  errors: ConfigError[];
}

export function parseAnnotations(annotations: Readonly<Record<string, string>> | undefined): ParsedLayer {
  const values: Record<string, unknown> = {};
  const errors: ConfigError[] = [];
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(ANNOTATION_PREFIX) || WRITTEN_BY_EBB.has(key)) continue;
    const name = key.slice(ANNOTATION_PREFIX.length);
    if (!isSettingName(name)) {
      errors.push({ key, value, message: unknownKeyMessage(key) });
      continue;
    }
    const parsed = parseSetting(name, value);
    if (parsed.ok) values[name] = parsed.value;
    else errors.push({ key, value, setting: name, message: `${key}: ${parsed.error}` });
  }
  return { values: values, errors };
}

/** The annotations that write settings back, as their text (`15m`, `250m`, `Mon-Fri 08:00-19:00 UTC replicas=1`). */
export function formatAnnotations(values: SettingsLayer): Record<string, string> {
  return Object.fromEntries(Object.entries(formatSettings(values)).map(([name, text]) => [settingAnnotation(name as SettingName), text]));
}

function unknownKeyMessage(key: string): string {
  const closest = KNOWN_KEYS.map((known) => ({ known, distance: editDistance(key, known) })).sort((a, b) => a.distance - b.distance)[0];
  const hint = closest && closest.distance <= 3 ? `did you mean ${closest.known}? ` : '';
  return `${key} is not an ebb annotation: ${hint}known keys are ${KNOWN_KEYS.join(', ')}`;
}

/** Levenshtein distance, for "did you mean"; keys are short, so the quadratic table is fine. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
