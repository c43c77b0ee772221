// Keep-warm windows are written in the wall-clock time of a named zone (`Mon-Fri 08:00-19:00
// Europe/Berlin`), so "is this window active now?" is a question about the local weekday and
// minute at an instant. Intl answers it with the zone's own DST rules: a window that opens at 08:00
// opens at 08:00 local on both sides of a DST switch, whatever the UTC offset.
import { formatKeepWarm } from './keep-warm.ts';
import type { KeepWarmWindow, Weekday } from './settings.ts';
import type { TimeWindow } from './time-window.ts';

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

export interface KeepWarmFloor {
  /** The highest floor among the active windows; 0 when none is active. */
  replicas: number;
  /** The window that sets the floor, when one is active. */
  window?: KeepWarmWindow;
}

/**
 * The replica floor the keep-warm windows ask for at `now` (epoch ms). Each window is evaluated in
 * its own time zone, which must be a valid IANA name (the settings resolver checks it).
 */
export function keepWarmFloor(windows: readonly KeepWarmWindow[], now: number): KeepWarmFloor {
  let floor: KeepWarmFloor = { replicas: 0 };
  for (const window of windows) {
    if (window.replicas > floor.replicas && isActive(window, localTime(now, window.timeZone))) {
      floor = { replicas: window.replicas, window };
    }
  }
  return floor;
}

/** The text form of a window, as users write it: `Mon-Fri 08:00-19:00 Europe/Berlin replicas=2`. */
export function describeWindow(window: KeepWarmWindow): string {
  return formatKeepWarm([window]);
}

/** Whether `now` (epoch ms) falls in the window, in the window's own time zone (eviction windows ask this too). */
export function isWindowActive(window: TimeWindow, now: number): boolean {
  return isActive(window, localTime(now, window.timeZone));
}

/**
 * A window whose end is before its start runs past midnight and belongs to the day it starts:
 * `Fri 22:00-02:00` covers Friday 22:00 to Saturday 02:00. (An end of 24:00 is minute 1440.)
 */
function isActive(window: TimeWindow, local: LocalTime): boolean {
  const startsToday = window.days.includes(local.weekday);
  const minute = local.minuteOfDay;
  if (window.startMinute < window.endMinute) {
    return startsToday && minute >= window.startMinute && minute < window.endMinute;
  }
  const startedYesterday = window.days.includes(((local.weekday + 6) % 7) as Weekday);
  return (startsToday && minute >= window.startMinute) || (startedYesterday && minute < window.endMinute);
}

interface LocalTime {
  weekday: Weekday;
  minuteOfDay: number;
}

// Building a DateTimeFormat loads the zone's rules and costs far more than formatting with one; the
// number of zones is small and bounded, so the cache needs no eviction.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23', // 0-23; `hour12: false` may print midnight as 24
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

function localTime(now: number, timeZone: string): LocalTime {
  let weekday = 0;
  let hour = 0;
  let minute = 0;
  for (const part of formatterFor(timeZone).formatToParts(now)) {
    if (part.type === 'weekday') weekday = DAY_NAMES.indexOf(part.value as (typeof DAY_NAMES)[number]);
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { weekday: weekday as Weekday, minuteOfDay: hour * 60 + minute };
}
