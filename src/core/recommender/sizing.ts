// The recommender's tuning: the policy's `sizing:` section, parsed into a typed SizingConfig with
// every field's default and accepted range in one table, so the parser, the defaults and the
// documentation cannot disagree. The defaults were chosen with `npm run bench:rightsizing`
// (test/bench/rightsizing.ts); each field's comment says why it is what it is.
import { DURATION_FORM, formatDuration, parseDuration } from '../duration.ts';
import { CPU_FORM, formatCpu, formatMemory, MEMORY_FORM, parseCpu, parseMemory } from '../quantity.ts';
import { fail, ok, type Result } from '../result.ts';

/** Durations in ms, CPU in millicores, memory in bytes; "observed time" counts only while samples arrive. */
export interface SizingConfig {
  /** CPU history: half-life of the decaying histogram, in observed time. */
  cpuHalfLifeMs: number;
  /** The CPU history's level: this percentile of the histogram; the target never goes below it (it is also the lower bound). */
  cpuPercentile: number;
  /** CPU upper bound: this percentile of the histogram (before the margin and the confidence widening). */
  cpuUpperPercentile: number;
  /** Recent CPU: the per-minute peaks of this window (whole minutes)… */
  cpuRecentWindowMs: number;
  /** …at this percentile: the level CPU reached in most recent minutes. The target follows it up at once… */
  cpuRecentPercentile: number;
  /** …and down only once it has stayed lower this long (whole 5 minutes). */
  cpuDecreaseDelayMs: number;
  /** Added on top of the CPU estimate: 0.1 = +10 %. */
  cpuMargin: number;
  /** No CPU recommendation below this. */
  cpuFloorMillis: number;
  /** Memory: one peak per interval of observed time… */
  memoryPeakIntervalMs: number;
  /** …the highest of the last this-many intervals is the base of the target. */
  memoryPeakIntervals: number;
  /** Added on top of the memory peak: 0.1 = +10 %. */
  memoryMargin: number;
  /** No memory recommendation below this. */
  memoryFloorBytes: number;
  /** After an OOM kill, memory needed = the memory it was killed at × this… */
  oomBumpRatio: number;
  /** …and at least that plus this. */
  oomMinBumpBytes: number;
  /** Observed history needed before a recommendation may lower a request (until then: raise only). */
  decreaseAfterMs: number;
  /** A longer gap between samples is not history (the workload was asleep at zero, or not scraped). */
  maxSampleGapMs: number;
  /** Relative change that counts as moved: below it, callers neither resize nor report. */
  tolerance: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const MIB = 2 ** 20;

export const DEFAULT_SIZING: SizingConfig = {
  cpuHalfLifeMs: 6 * HOUR_MS,
  cpuPercentile: 0.5,
  cpuUpperPercentile: 0.95,
  cpuRecentWindowMs: 20 * MINUTE_MS,
  cpuRecentPercentile: 0.6,
  cpuDecreaseDelayMs: 30 * MINUTE_MS,
  cpuMargin: 0.08,
  cpuFloorMillis: 10,
  memoryPeakIntervalMs: HOUR_MS,
  memoryPeakIntervals: 24,
  memoryMargin: 0.05,
  memoryFloorBytes: 16 * MIB,
  oomBumpRatio: 1.2,
  oomMinBumpBytes: 32 * MIB,
  decreaseAfterMs: HOUR_MS,
  maxSampleGapMs: MINUTE_MS,
  tolerance: 0.1,
};

interface FieldSpec {
  /** The SizingConfig property this policy field sets. */
  key: keyof SizingConfig;
  parse(text: string): Result<number>;
  format(value: number): string;
}

const notAccepted = (text: string, accepted: string) => fail<number>(`${JSON.stringify(text)} is not accepted: expected ${accepted}`);
const DECIMAL = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/;

function fraction(key: keyof SizingConfig, minimum: number, maximum: number): FieldSpec {
  const accepted = `a number between ${minimum} and ${maximum}`;
  return {
    key,
    parse: (text) => {
      const value = Number(text);
      return DECIMAL.test(text) && value >= minimum && value <= maximum ? ok(value) : notAccepted(text, accepted);
    },
    format: String,
  };
}

function wholeNumber(key: keyof SizingConfig, minimum: number, maximum: number): FieldSpec {
  const accepted = `a whole number from ${minimum} to ${maximum}`;
  return {
    key,
    parse: (text) => {
      const value = Number(text);
      return /^\s*\d+\s*$/.test(text) && value >= minimum && value <= maximum ? ok(value) : notAccepted(text, accepted);
    },
    format: String,
  };
}

/** A parsed quantity or duration within [minimum, maximum] (in its own units), said in its own form. */
function ranged(key: keyof SizingConfig, form: string, parse: (text: string) => Result<number>, format: (value: number) => string, minimum: number, maximum: number, step = 1): FieldSpec {
  const accepted = `${form}, from ${format(minimum)} to ${format(maximum)}${step > 1 ? ` in whole ${format(step)}` : ''}`;
  return {
    key,
    parse: (text) => {
      const parsed = parse(text);
      if (!parsed.ok) return fail(`${parsed.error}, from ${format(minimum)} to ${format(maximum)}`);
      const value = parsed.value;
      return value >= minimum && value <= maximum && value % step === 0 ? ok(value) : notAccepted(text, accepted);
    },
    format,
  };
}

const duration = (key: keyof SizingConfig, minimum: number, maximum: number, step?: number) =>
  ranged(key, DURATION_FORM, parseDuration, formatDuration, minimum, maximum, step);

/**
 * The policy fields of `sizing:`, by their names in policy.yaml. The upper limits of the window
 * lengths bound the checkpoint's size (container-model.ts, ≤ 2 KiB).
 */
export const SIZING_FIELDS: Readonly<Record<string, FieldSpec>> = {
  cpuHalfLife: duration('cpuHalfLifeMs', 10 * MINUTE_MS, 30 * 24 * HOUR_MS),
  cpuPercentile: fraction('cpuPercentile', 0.05, 0.99),
  cpuUpperPercentile: fraction('cpuUpperPercentile', 0.5, 1),
  cpuRecentWindow: duration('cpuRecentWindowMs', MINUTE_MS, 30 * MINUTE_MS, MINUTE_MS),
  cpuRecentPercentile: fraction('cpuRecentPercentile', 0.1, 1),
  cpuDecreaseDelay: duration('cpuDecreaseDelayMs', 0, 2 * HOUR_MS, 5 * MINUTE_MS),
  cpuMargin: fraction('cpuMargin', 0, 1),
  cpuFloor: ranged('cpuFloorMillis', CPU_FORM, parseCpu, formatCpu, 1, 1000),
  memoryPeakInterval: duration('memoryPeakIntervalMs', MINUTE_MS, 24 * HOUR_MS),
  memoryPeakIntervals: wholeNumber('memoryPeakIntervals', 1, 24),
  memoryMargin: fraction('memoryMargin', 0, 1),
  memoryFloor: ranged('memoryFloorBytes', MEMORY_FORM, parseMemory, formatMemory, MIB, 1024 * MIB),
  oomBumpRatio: fraction('oomBumpRatio', 1, 4),
  oomMinBump: ranged('oomMinBumpBytes', MEMORY_FORM, parseMemory, formatMemory, 0, 1024 * MIB),
  decreaseAfter: duration('decreaseAfterMs', 0, 7 * 24 * HOUR_MS),
  maxSampleGap: duration('maxSampleGapMs', 10_000, HOUR_MS),
  tolerance: fraction('tolerance', 0.01, 1),
};

const FIELD_NAMES = Object.keys(SIZING_FIELDS);
const PATH = 'sizing';

/** The policy field that sets a SizingConfig property (for messages that name a field). */
const fieldName = (key: keyof SizingConfig) => FIELD_NAMES.find((name) => SIZING_FIELDS[name]!.key === key)!;

/** Two fields that must be ordered, e.g. the lower-bound percentile ≤ the target percentile. */
const ORDERED: readonly (readonly [keyof SizingConfig, keyof SizingConfig])[] = [['cpuPercentile', 'cpuUpperPercentile']];

/**
 * The policy's `sizing:` section (absent = every default). Every problem is reported with its
 * field path, the value and what is accepted; the fields that were fine are still returned, so the
 * caller decides what an error means (the policy rejects the whole edit).
 */
export function parseSizing(value: unknown, report: (path: string, value: unknown, problem: string) => void): SizingConfig {
  const config: SizingConfig = { ...DEFAULT_SIZING };
  if (value === undefined || value === null) return config;
  if (typeof value !== 'object' || Array.isArray(value)) {
    report(PATH, value, `${JSON.stringify(value)} is not accepted: expected a mapping`);
    return config;
  }
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    const path = `${PATH}.${name}`;
    const field = Object.hasOwn(SIZING_FIELDS, name) ? SIZING_FIELDS[name] : undefined;
    if (!field) {
      report(path, raw, `unknown field ${JSON.stringify(name)}: known fields are ${FIELD_NAMES.join(', ')}`);
    } else if (raw === undefined || raw === null) {
      continue;
    } else if (typeof raw !== 'string' && typeof raw !== 'number') {
      report(path, raw, `${JSON.stringify(raw)} is not accepted: expected a single value`);
    } else {
      const parsed = field.parse(String(raw));
      if (parsed.ok) config[field.key] = parsed.value;
      else report(path, raw, parsed.error);
    }
  }
  for (const [low, high] of ORDERED) {
    if (config[low] > config[high]) {
      const [lowName, highName] = [fieldName(low), fieldName(high)];
      report(`${PATH}.${lowName}`, config[low], `${JSON.stringify(String(config[low]))} is not accepted: it must not exceed ${PATH}.${highName} (${config[high]})`);
    }
  }
  return config;
}

