// The recommender's tuning: the policy's `sizing:` section, parsed into a typed SizingConfig with
// every field's default and accepted range in one table, so the parser, the defaults and the
// documentation cannot disagree. The defaults were chosen with `npm run bench:rightsizing`
// (test/bench/rightsizing.ts); DEFAULT_SIZING says why each is what it is.
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

/**
 * Chosen with `npm run bench:rightsizing` against the VPA's recommender on the same traces (the
 * figures are in the README's right-sizing section); the reasons, briefly:
 */
export const DEFAULT_SIZING: SizingConfig = {
  // Long enough that an afternoon's level holds through a lunch dip, short enough that a step
  // down is followed within the day (12 h: 0.68× the VPA's CPU slack, 6 h: 0.66×, more resizes).
  cpuHalfLifeMs: 6 * HOUR_MS,
  // The history's median as the floor: p70 kept nights nearer the day's level (0.73× the VPA's
  // slack), p30 saved more (0.62×) for 20 % more resizes; the recent level carries the peaks.
  cpuPercentile: 0.5,
  // As the VPA's upper bound.
  cpuUpperPercentile: 0.95,
  // 20 minutes at p60: a step up is followed in 13 minutes, while a burst of one or two minutes
  // (queue workers, GC) does not move the target; at p50 more samples went over their request
  // than with the VPA (2.8 % vs 2.5 %).
  cpuRecentWindowMs: 20 * MINUTE_MS,
  cpuRecentPercentile: 0.6,
  // Half an hour of lower usage before the target follows: an hour cost 0.02× of slack for no
  // fewer resizes.
  cpuDecreaseDelayMs: 30 * MINUTE_MS,
  // On a per-minute peak (about p92 of 10-s samples) 8 % keeps under-provisioned samples below
  // the VPA's (2.1 % vs 2.5 %); 10 % put the target above the new level's p90 + 15 % after a step.
  cpuMargin: 0.08,
  // Small: a sidecar or an idle worker really uses a few millicores (the VPA: 25m per pod).
  cpuFloorMillis: 10,
  // Hourly peaks over a day: a daily peak is always in the window, and a step down in memory is
  // followed after a day (the VPA's 8 days of peaks take 3–4 days).
  memoryPeakIntervalMs: HOUR_MS,
  memoryPeakIntervals: 24,
  // The base is already the day's highest peak (the VPA adds 15 % to a p90 and rounds up to 5 %);
  // at 5 % no more samples went over their request than with the VPA.
  memoryMargin: 0.05,
  // Small containers exist: the VPA's 250 MiB pod minimum is its users' most reported waste.
  memoryFloorBytes: 16 * MIB,
  // The VPA's ×1.2; its +100 MiB would be six times a 16 MiB container, +32 MiB is twice that floor.
  oomBumpRatio: 1.2,
  oomMinBumpBytes: 32 * MIB,
  // An hour of history before any decrease: long enough to see a new workload's first load
  // cycles, short enough that its early doubt (×2) costs little (2 h: +0.01× slack).
  decreaseAfterMs: HOUR_MS,
  // Scrapes come every 10 s: a minute covers missed scrapes and restarts, not sleep at zero.
  maxSampleGapMs: MINUTE_MS,
  // A resize for less than 10 % is not worth an API call and an Event.
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

/** A kind of quantity as policy.yaml writes it: its form in words, its parser and its formatter. */
interface Units {
  form: string;
  parse: (text: string) => Result<number>;
  format: (value: number) => string;
}

const DURATIONS: Units = { form: DURATION_FORM, parse: parseDuration, format: formatDuration };
const CPU: Units = { form: CPU_FORM, parse: parseCpu, format: formatCpu };
const MEMORY: Units = { form: MEMORY_FORM, parse: parseMemory, format: formatMemory };

/** A parsed quantity or duration within [minimum, maximum] (in its own units), said in its own form. */
function ranged(key: keyof SizingConfig, { form, parse, format }: Units, minimum: number, maximum: number, step = 1): FieldSpec {
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

const duration = (key: keyof SizingConfig, minimum: number, maximum: number, step?: number) => ranged(key, DURATIONS, minimum, maximum, step);

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
  cpuFloor: ranged('cpuFloorMillis', CPU, 1, 1000),
  memoryPeakInterval: duration('memoryPeakIntervalMs', MINUTE_MS, 24 * HOUR_MS),
  memoryPeakIntervals: wholeNumber('memoryPeakIntervals', 1, 24),
  memoryMargin: fraction('memoryMargin', 0, 1),
  memoryFloor: ranged('memoryFloorBytes', MEMORY, MIB, 1024 * MIB),
  oomBumpRatio: fraction('oomBumpRatio', 1, 4),
  oomMinBump: ranged('oomMinBumpBytes', MEMORY, 0, 1024 * MIB),
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
      report(
        `${PATH}.${lowName}`,
        config[low],
        `${JSON.stringify(String(config[low]))} is not accepted: it must not exceed ${PATH}.${highName} (${config[high]})`,
      );
    }
  }
  return config;
}
