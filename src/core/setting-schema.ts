// The settings a workload can be given, by name: the same names are annotation keys after the
// `ebb.dev/` prefix and keys of the policy's `defaults` and namespace rules. One table holds, for
// each, how its text is parsed, how it is written back, and its built-in default, so annotations,
// policy and the resolver cannot disagree about a setting.
import { DURATION_FORM, formatDuration, parseDuration } from './duration.ts';
import { formatKeepWarm, parseKeepWarm } from './keep-warm.ts';
import { CPU_FORM, formatCpu, formatMemory, MEMORY_FORM, parseCpu, parseMemory } from './quantity.ts';
import { fail, ok, type Result } from './result.ts';
import { RESIZE_MODES, type KeepWarmWindow, type ResizeMode, type WorkloadSettings } from './settings.ts';

/** Values in the units of WorkloadSettings: durations in ms, CPU in millicores, memory in bytes. */
export interface SettingValues {
  enabled: boolean;
  'min-replicas': number;
  'max-replicas': number;
  'target-concurrency': number;
  'idle-after': number;
  'scale-down-delay': number;
  'keep-warm': readonly KeepWarmWindow[];
  paused: boolean;
  resize: ResizeMode;
  'cpu-min': number;
  'cpu-max': number;
  'memory-min': number;
  'memory-max': number;
  port: string | number;
}
export type SettingName = keyof SettingValues;

/** What one level (an object's annotations, a policy rule) sets; absent = not set there. */
export type SettingsLayer = Partial<SettingValues>;

/** Settings without a built-in default: absent means "no bound" or "choose for me". */
type OptionalSetting = 'cpu-min' | 'cpu-max' | 'memory-min' | 'memory-max' | 'port';
export type ResolvedSettings = Omit<SettingValues, OptionalSetting> & Partial<Pick<SettingValues, OptionalSetting>>;

interface SettingSpec<T> {
  /** What is accepted, as the end of an error message and in the documentation. */
  accepted: string;
  parse(text: string): Result<T>;
  format(value: T): string;
}

/** A problem with one configured value: where it is (key), what it was, and a sentence saying so. */
export interface ConfigError {
  /** An annotation key (`ebb.dev/min-replicas`) or a policy field path (`defaults.min-replicas`). */
  key: string;
  value: string;
  /** Names the key, the value and what is accepted. */
  message: string;
  /** The setting concerned, when the key is a known setting. */
  setting?: SettingName;
}

const notAccepted = (text: string, accepted: string) => fail(`${JSON.stringify(text)} is not accepted: expected ${accepted}`);

function boolean(): SettingSpec<boolean> {
  const accepted = '"true" or "false"';
  return {
    accepted,
    parse: (text) => (text === 'true' ? ok(true) : text === 'false' ? ok(false) : notAccepted(text, accepted)),
    format: String,
  };
}

/** A whole number in [minimum, maximum]; the accepted range is said as the user needs it. */
export function parseWholeNumber(text: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER): Result<number> {
  const value = Number(text.trim());
  if (/^\s*\d+\s*$/.test(text) && Number.isSafeInteger(value) && value >= minimum && value <= maximum) return ok(value);
  return notAccepted(text, maximum === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${minimum}` : `a whole number from ${minimum} to ${maximum}`);
}

function wholeNumber(minimum: number): SettingSpec<number> {
  return { accepted: `a whole number ≥ ${minimum}`, parse: (text) => parseWholeNumber(text, minimum), format: String };
}

function fromParser<T>(accepted: string, parse: (text: string) => Result<T>, format: (value: T) => string): SettingSpec<T> {
  return { accepted, parse, format };
}

const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const PORT_ACCEPTED = 'a container port number (1-65535) or port name (lowercase letters, digits and "-", at most 15)';

function parsePort(text: string): Result<string | number> {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const port = Number(trimmed);
    return port >= 1 && port <= 65535 ? ok(port) : notAccepted(text, PORT_ACCEPTED);
  }
  return PORT_NAME.test(trimmed) && trimmed.length <= 15 && !trimmed.includes('--') ? ok(trimmed) : notAccepted(text, PORT_ACCEPTED);
}

function parseResize(text: string): Result<ResizeMode> {
  const mode = RESIZE_MODES.find((candidate) => candidate === text.trim());
  return mode ? ok(mode) : notAccepted(text, RESIZE_MODES.join(' | '));
}

export const SETTINGS: { readonly [N in SettingName]: SettingSpec<SettingValues[N]> } = {
  enabled: boolean(),
  'min-replicas': wholeNumber(0),
  'max-replicas': wholeNumber(1),
  'target-concurrency': wholeNumber(1),
  'idle-after': fromParser(DURATION_FORM, parseDuration, formatDuration),
  'scale-down-delay': fromParser(DURATION_FORM, parseDuration, formatDuration),
  'keep-warm': fromParser('windows such as "Mon-Fri 08:00-19:00 Europe/Berlin replicas=2; Sat 10:00-14:00 UTC"', parseKeepWarm, formatKeepWarm),
  paused: boolean(),
  resize: fromParser(RESIZE_MODES.join(' | '), parseResize, String),
  'cpu-min': fromParser(CPU_FORM, parseCpu, formatCpu),
  'cpu-max': fromParser(CPU_FORM, parseCpu, formatCpu),
  'memory-min': fromParser(MEMORY_FORM, parseMemory, formatMemory),
  'memory-max': fromParser(MEMORY_FORM, parseMemory, formatMemory),
  port: fromParser(PORT_ACCEPTED, parsePort, String),
};

export const SETTING_NAMES = Object.keys(SETTINGS) as readonly SettingName[];

export function isSettingName(name: string): name is SettingName {
  return Object.hasOwn(SETTINGS, name);
}

/** Parses one setting's text; the error names what was given and what is accepted. */
export function parseSetting<N extends SettingName>(name: N, text: string): Result<SettingValues[N]> {
  return (SETTINGS[name] as SettingSpec<SettingValues[N]>).parse(text);
}

export function formatSetting<N extends SettingName>(name: N, value: SettingValues[N]): string {
  return (SETTINGS[name] as SettingSpec<SettingValues[N]>).format(value);
}

/** Each set value in its text form, by setting name; no keep-warm windows is left out rather than written as "". */
export function formatSettings(values: SettingsLayer): Partial<Record<SettingName, string>> {
  const texts: Partial<Record<SettingName, string>> = {};
  for (const name of SETTING_NAMES) {
    const value = values[name];
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) texts[name] = formatSetting(name, value as never);
  }
  return texts;
}

/**
 * The built-in defaults, the lowest level of precedence. Chosen to be safe for a workload that
 * opted in without saying more: it may ebb to zero after 15 idle minutes (that is what opting in
 * asks for), scales down calmly, and is right-sized only when its pods are created anyway.
 */
export const BUILT_IN_DEFAULTS: ResolvedSettings = {
  enabled: false,
  'min-replicas': 0,
  'max-replicas': 10,
  'target-concurrency': 10,
  'idle-after': 15 * 60_000,
  'scale-down-delay': 5 * 60_000,
  'keep-warm': [],
  paused: false,
  resize: 'initial',
};

/** Two settings that must agree when both are known, e.g. min-replicas ≤ max-replicas. */
interface Constraint {
  names: readonly [SettingName, SettingName];
  /** undefined when the values agree (or one is unset), else why not. */
  problem(values: SettingsLayer): string | undefined;
}

function notAbove(low: 'min-replicas' | 'cpu-min' | 'memory-min', high: 'max-replicas' | 'cpu-max' | 'memory-max'): Constraint {
  return {
    names: [low, high],
    problem: (values) => {
      const [lowValue, highValue] = [values[low], values[high]];
      if (lowValue === undefined || highValue === undefined || lowValue <= highValue) return undefined;
      return `${low} (${formatSetting(low, lowValue)}) must not exceed ${high} (${formatSetting(high, highValue)})`;
    },
  };
}

export const CONSTRAINTS: readonly Constraint[] = [
  notAbove('min-replicas', 'max-replicas'),
  notAbove('cpu-min', 'cpu-max'),
  notAbove('memory-min', 'memory-max'),
  {
    names: ['keep-warm', 'max-replicas'],
    problem: ({ 'keep-warm': windows, 'max-replicas': max }) => {
      const highest = Math.max(0, ...(windows ?? []).map((window) => window.replicas));
      return max === undefined || highest <= max ? undefined : `keep-warm asks for ${highest} replicas, above max-replicas (${max})`;
    },
  },
];

/** The shape every program reads. */
export function toWorkloadSettings(values: ResolvedSettings): WorkloadSettings {
  return {
    enabled: values.enabled,
    scaling: {
      minReplicas: values['min-replicas'],
      maxReplicas: values['max-replicas'],
      targetConcurrency: values['target-concurrency'],
      idleAfterMs: values['idle-after'],
      scaleDownDelayMs: values['scale-down-delay'],
      keepWarm: values['keep-warm'],
      paused: values.paused,
    },
    sizing: {
      resize: values.resize,
      cpuMinMillis: values['cpu-min'],
      cpuMaxMillis: values['cpu-max'],
      memoryMinBytes: values['memory-min'],
      memoryMaxBytes: values['memory-max'],
    },
    traffic: { port: values.port },
  };
}
