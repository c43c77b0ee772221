// Weekly time windows in a named time zone, as users write them: `Mon-Fri 08:00-19:00 Europe/Berlin`.
// Keep-warm windows (a replica floor) and eviction windows (when the controller may evict) share
// this syntax. Days may be omitted (every day), the zone too (UTC); `24:00` ends a window at
// midnight, and an end before the start runs past midnight into the next day.
import { fail, ok, type Result } from './result.ts';
import type { Weekday } from './settings.ts';

export interface TimeWindow {
  /** Sorted ascending, without duplicates. */
  days: readonly Weekday[];
  startMinute: number;
  endMinute: number;
  timeZone: string;
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
/** People write ranges Monday first (`Mon-Fri`, `Sat-Sun`); ranges may wrap (`Fri-Mon`). */
const WEEK_ORDER: readonly Weekday[] = [1, 2, 3, 4, 5, 6, 0];
const EVERY_DAY: readonly Weekday[] = [0, 1, 2, 3, 4, 5, 6];

const TIMES = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/;
const DAY_TOKEN = /^[A-Za-z]{3}(?:-[A-Za-z]{3})?(?:,[A-Za-z]{3}(?:-[A-Za-z]{3})?)*$/;

function dayNumber(name: string): Weekday | undefined {
  const index = DAY_NAMES.findIndex((day) => day.toLowerCase() === name.toLowerCase());
  return index < 0 ? undefined : (index as Weekday);
}

function parseDays(token: string): Result<Weekday[]> {
  const days = new Set<Weekday>();
  for (const part of token.split(',')) {
    const [fromName = '', toName] = part.split('-');
    const from = dayNumber(fromName);
    const to = toName === undefined ? from : dayNumber(toName);
    if (from === undefined || to === undefined) {
      return fail(`${JSON.stringify(part)} is not a day: expected Mon, Tue, Wed, Thu, Fri, Sat, Sun or a range such as Mon-Fri`);
    }
    let position = WEEK_ORDER.indexOf(from);
    for (;;) {
      const day = WEEK_ORDER[position % 7]!;
      days.add(day);
      if (day === to) break;
      position += 1;
    }
  }
  return ok([...days].sort((a, b) => a - b));
}

function parseTimes(token: string): Result<{ startMinute: number; endMinute: number }> {
  const [, startH, startM, endH, endM] = TIMES.exec(token) ?? [];
  const start = Number(startH) * 60 + Number(startM);
  const end = Number(endH) * 60 + Number(endM);
  const validClock = (h: number, m: number, allowMidnightEnd: boolean) => m < 60 && (h < 24 || (allowMidnightEnd && h === 24 && m === 0));
  if (startH === undefined || !validClock(Number(startH), Number(startM), false) || !validClock(Number(endH), Number(endM), true)) {
    return fail(`${JSON.stringify(token)} is not a time range: expected HH:MM-HH:MM such as 08:00-19:00 or 22:00-24:00`);
  }
  if (start === end) return fail(`${JSON.stringify(token)} is empty: start and end are equal (write 00:00-24:00 for a whole day)`);
  return ok({ startMinute: start, endMinute: end });
}

const zoneNames = new Map<string, string | undefined>();

/** The canonical IANA name of a zone (`utc` → `UTC`), or undefined; Intl knows the zones. */
function canonicalTimeZone(name: string): string | undefined {
  if (!zoneNames.has(name)) {
    let canonical: string | undefined;
    try {
      canonical = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
    } catch {
      canonical = undefined;
    }
    zoneNames.set(name, canonical);
  }
  return zoneNames.get(name);
}

/** A day list (`Mon-Fri`, `Mon,Wed`) rather than a zone: zones have a `/`, or are UTC or GMT. */
function isDayList(token: string): boolean {
  return DAY_TOKEN.test(token) && !token.includes('/') && token.toUpperCase() !== 'UTC' && token.toUpperCase() !== 'GMT';
}

/** The token as a zone; one without a `/` may have been meant as something else. */
function parseTimeZone(token: string): Result<string> {
  const timeZone = canonicalTimeZone(token);
  if (timeZone) return ok(timeZone);
  if (token.includes('/')) return fail(`${JSON.stringify(token)} is not a time zone: expected an IANA name such as Europe/Berlin or UTC`);
  return fail(`${JSON.stringify(token)} is not a day list, time range or time zone: expected a window such as "Mon-Fri 08:00-19:00 Europe/Berlin"`);
}

/**
 * One window from its whitespace-separated tokens; `extra` is offered every token that is not a
 * day list, a time range or a zone (keep-warm uses it for `replicas=N`) and says whether it took it.
 */
export function parseTimeWindow(text: string, extra: (token: string) => Result<boolean> = () => ok(false)): Result<TimeWindow> {
  let days: Weekday[] | undefined;
  let times: { startMinute: number; endMinute: number } | undefined;
  let timeZone: string | undefined;
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const taken = extra(token);
    if (!taken.ok) return taken;
    if (taken.value) continue;
    if (/^\d/.test(token)) {
      if (times) return fail(`${JSON.stringify(text)} has two time ranges: expected one per window`);
      const parsed = parseTimes(token);
      if (!parsed.ok) return parsed;
      times = parsed.value;
    } else if (isDayList(token)) {
      if (days) return fail(`${JSON.stringify(text)} has two day lists: expected one, such as Mon-Fri or Mon,Wed,Fri`);
      const parsed = parseDays(token);
      if (!parsed.ok) return parsed;
      days = parsed.value;
    } else {
      if (timeZone) return fail(`${JSON.stringify(text)} has two time zones (${timeZone}, ${token}): expected one`);
      const parsed = parseTimeZone(token);
      if (!parsed.ok) return parsed;
      timeZone = parsed.value;
    }
  }
  if (!times) return fail(`${JSON.stringify(text)} has no time range: expected HH:MM-HH:MM such as 08:00-19:00`);
  return ok({ days: days ?? EVERY_DAY, ...times, timeZone: timeZone ?? 'UTC' });
}

/**
 * Every window of a `;`-separated list, or `"<value>" is not accepted: <the first problem>`,
 * naming the window when there are several.
 */
export function parseTimeWindows<W>(value: string, parseOne: (text: string) => Result<W>): Result<W[]> {
  const texts = value
    .split(';')
    .map((part) => part.trim())
    .filter(Boolean);
  const windows: W[] = [];
  for (const text of texts) {
    const parsed = parseOne(text);
    if (!parsed.ok) {
      const where = texts.length > 1 ? `in window ${JSON.stringify(text)}, ` : '';
      return fail(`${JSON.stringify(value)} is not accepted: ${where}${parsed.error}`);
    }
    windows.push(parsed.value);
  }
  return ok(windows);
}

function formatMinute(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** Days as the shortest list of Monday-first ranges: [1..5] → `Mon-Fri`, [0, 6] → `Sat-Sun`. */
function formatDays(days: readonly Weekday[]): string {
  const ordered = WEEK_ORDER.filter((day) => days.includes(day));
  const runs: Weekday[][] = [];
  for (const day of ordered) {
    const run = runs.at(-1);
    if (run && WEEK_ORDER.indexOf(run.at(-1)!) + 1 === WEEK_ORDER.indexOf(day)) run.push(day);
    else runs.push([day]);
  }
  return runs.map((run) => (run.length === 1 ? DAY_NAMES[run[0]!] : `${DAY_NAMES[run[0]!]}-${DAY_NAMES[run.at(-1)!]}`)).join(',');
}

/** The text form, which parseTimeWindow reads back to the same window. */
export function formatTimeWindow(window: TimeWindow): string {
  return `${formatDays(window.days)} ${formatMinute(window.startMinute)}-${formatMinute(window.endMinute)} ${window.timeZone}`;
}
