// Settings precedence, highest first: pod-template annotation > Deployment annotation > Namespace
// annotation > policy rule for the namespace > policy defaults > built-in defaults.
// A value that is not accepted is reported and skipped, so the next level's value applies; so is a
// value that contradicts what the levels below it settled (min-replicas above max-replicas).
import { parseAnnotations, settingAnnotation } from './annotations.ts';
import {
  BUILT_IN_DEFAULTS,
  CONSTRAINTS,
  formatSetting,
  type ConfigError,
  type ResolvedSettings,
  type SettingName,
  type SettingsLayer,
} from './setting-schema.ts';

export interface SettingsLevel {
  /** Where the values come from, for explanations: `pod template`, `policy defaults`, … */
  source: string;
  values: SettingsLayer;
  /** Problems already found while parsing this level; reported as they are. */
  errors: readonly ConfigError[];
  /** The key a value of this level is reported under (`ebb.dev/min-replicas`, `defaults.min-replicas`). */
  keyOf(name: SettingName): string;
}

export interface Resolution {
  settings: ResolvedSettings;
  /** Which level each setting came from (`built-in default` when none set it). */
  sources: Record<string, string>;
  errors: ConfigError[];
}

/** A level made of an object's `ebb.dev/` annotations. */
export function annotationLevel(source: string, annotations: Readonly<Record<string, string>> | undefined): SettingsLevel {
  return { source, ...parseAnnotations(annotations), keyOf: settingAnnotation };
}

/** A level of already-validated policy values, reported under their field path (`namespaces.shop`). */
export function policyLevel(source: string, path: string, values: SettingsLayer): SettingsLevel {
  return { source, values, errors: [], keyOf: (name) => `${path}.${name}` };
}

/** Resolves levels given highest precedence first; built-in defaults are below all of them. */
export function resolveSettings(levels: readonly SettingsLevel[]): Resolution {
  let settings: ResolvedSettings = { ...BUILT_IN_DEFAULTS };
  const sources: Record<string, string> = Object.fromEntries(Object.keys(BUILT_IN_DEFAULTS).map((name) => [name, 'built-in default']));
  const errors: ConfigError[] = [];
  for (const level of [...levels].reverse()) {
    errors.push(...level.errors);
    const accepted: SettingsLayer = { ...level.values };
    for (const constraint of CONSTRAINTS) {
      const setHere = constraint.names.filter((name) => accepted[name] !== undefined);
      const problem = setHere.length > 0 ? constraint.problem({ ...settings, ...accepted }) : undefined;
      if (problem === undefined) continue;
      for (const name of setHere) {
        const key = level.keyOf(name);
        const value = formatSetting(name, accepted[name] as never);
        errors.push({ key, value, setting: name, message: `${key}: ${JSON.stringify(value)} is not accepted: ${problem}` });
        delete accepted[name];
      }
    }
    settings = { ...settings, ...accepted };
    for (const name of Object.keys(accepted)) sources[name] = level.source;
  }
  return { settings, sources, errors };
}
