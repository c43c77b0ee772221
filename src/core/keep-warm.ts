// `ebb.dev/keep-warm`: windows during which a workload keeps a floor of replicas, e.g.
// `Mon-Fri 08:00-19:00 Europe/Berlin replicas=2; Sat 10:00-14:00 UTC` (replicas defaults to 1).
// This file owns the syntax; evaluating windows at an instant is keep-warm-schedule.ts's job.
import { fail, ok, type Result } from './result.ts';
import type { KeepWarmWindow } from './settings.ts';
import { formatTimeWindow, parseTimeWindow, parseTimeWindows } from './time-window.ts';

const REPLICAS = /^replicas=(.*)$/;

function parseWindow(text: string): Result<KeepWarmWindow> {
  let replicas: number | undefined;
  const window = parseTimeWindow(text, (token) => {
    const match = REPLICAS.exec(token);
    if (!match) return ok(false);
    if (replicas !== undefined) return fail(`${JSON.stringify(text)} sets replicas twice`);
    if (!/^\d+$/.test(match[1]!) || Number(match[1]) < 1) {
      return fail(`${JSON.stringify(token)} is not a replica count: expected replicas=N with N a whole number ≥ 1`);
    }
    replicas = Number(match[1]);
    return ok(true);
  });
  return window.ok ? ok({ ...window.value, replicas: replicas ?? 1 }) : window;
}

/** The windows of a keep-warm value; an empty value is no windows (it clears a lower level's). */
export function parseKeepWarm(value: string): Result<KeepWarmWindow[]> {
  return parseTimeWindows(value, parseWindow);
}

/** The annotation text of windows, which parseKeepWarm reads back to the same windows. */
export function formatKeepWarm(windows: readonly KeepWarmWindow[]): string {
  return windows.map((window) => `${formatTimeWindow(window)} replicas=${window.replicas}`).join('; ');
}
