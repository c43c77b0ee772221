// Each program's settings, declared once in a table: the variable's name, how its text is parsed
// (the core's parsers, which say what is accepted), and its default. The table is read once at
// start; every bad value is reported, each the way an annotation error reads
// (`EBB_AGENT_PORT: "70000" is not accepted: expected a whole number from 0 to 65535`), and the
// program stops. An empty variable is unset, in every program: a manifest's `value: ""` and an
// absent variable mean the same.

import { parseDuration } from '../core/duration.ts';
import { parseWholeNumber } from '../core/setting-schema.ts';
import { fail, ok, type Result } from '../core/result.ts';

export interface Variable<T> {
  name: string;
  parse(text: string): Result<T>;
  /** The value when the variable is unset; a variable without one is required. */
  fallback?: () => T;
}

/** A variable with a default. */
export function variable<T>(name: string, parse: (text: string) => Result<T>, fallback: T): Variable<T> {
  return { name, parse, fallback: () => fallback };
}

/** A variable that may stay unset (undefined). */
export function optional<T>(name: string, parse: (text: string) => Result<T>): Variable<T | undefined> {
  return { name, parse, fallback: () => undefined };
}

/** A variable the program cannot start without. */
export function required<T>(name: string, parse: (text: string) => Result<T>): Variable<T> {
  return { name, parse };
}

export type EnvironmentTable = Record<string, Variable<unknown>>;
export type EnvironmentValues<T extends EnvironmentTable> = { [K in keyof T]: T[K] extends Variable<infer V> ? V : never };

/** Every problem with a program's environment, one per line. */
export class EnvironmentError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'EnvironmentError';
  }
}

/** The table's values from `env`; throws an EnvironmentError naming every bad or missing variable. */
export function readEnvironment<T extends EnvironmentTable>(table: T, env: NodeJS.ProcessEnv): EnvironmentValues<T> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(table)) {
    const text = env[spec.name];
    if (text === undefined || text === '') {
      if (spec.fallback) values[key] = spec.fallback();
      else problems.push(`${spec.name} is required`);
      continue;
    }
    const parsed = spec.parse(text);
    if (parsed.ok) values[key] = parsed.value;
    else problems.push(`${spec.name}: ${parsed.error}`);
  }
  if (problems.length > 0) throw new EnvironmentError(problems);
  return values as EnvironmentValues<T>;
}

/** An error from a rule across variables, in the same form. */
export function environmentProblem(name: string, text: string, problem: string): EnvironmentError {
  return new EnvironmentError([`${name}: ${JSON.stringify(text)} is not accepted: ${problem}`]);
}

// Parsers for what only programs read; settings users write (durations, port ranges) use the core's.

export const text = (value: string): Result<string> => ok(value);

export const wholeNumber =
  (minimum: number, maximum?: number) =>
  (value: string): Result<number> =>
    parseWholeNumber(value, minimum, maximum);

/** A TCP port to listen on; 0 asks the system for a free one (tests). */
export const listenPort = wholeNumber(0, 65535);
/** A TCP port to connect to. */
export const port = wholeNumber(1, 65535);

/** A number in [minimum, maximum], fractions allowed. */
export const numberBetween =
  (minimum: number, maximum = Infinity) =>
  (value: string): Result<number> => {
    const parsed = Number(value.trim());
    if (value.trim() !== '' && Number.isFinite(parsed) && parsed >= minimum && parsed <= maximum) return ok(parsed);
    return fail(`${JSON.stringify(value)} is not accepted: expected a number ${maximum === Infinity ? `≥ ${minimum}` : `from ${minimum} to ${maximum}`}`);
  };

export const flag = (value: string): Result<boolean> =>
  value === 'true' ? ok(true) : value === 'false' ? ok(false) : fail(`${JSON.stringify(value)} is not accepted: expected true or false`);

/** Comma-separated items, blanks dropped. */
export const list = (value: string): Result<string[]> =>
  ok(
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

/** One of the given words. */
export const oneOf =
  <T extends string>(...accepted: readonly T[]) =>
  (value: string): Result<T> =>
    (accepted as readonly string[]).includes(value) ? ok(value as T) : fail(`${JSON.stringify(value)} is not accepted: expected ${accepted.join(' or ')}`);

/** A duration as the core writes them (`30s`, `8760h`), in milliseconds, at least `minimumMs`. */
export const durationAtLeast =
  (minimumMs: number, minimumText: string) =>
  (value: string): Result<number> => {
    const parsed = parseDuration(value);
    if (parsed.ok && parsed.value < minimumMs) return fail(`${JSON.stringify(value)} is not accepted: expected at least ${minimumText}`);
    return parsed;
  };
