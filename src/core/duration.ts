// Durations as users write them in annotations and the policy: a sequence of number+unit pairs,
// the way Go and Kubernetes write them (`250ms`, `30s`, `5m`, `1h30m`, `1.5h`). A bare number is
// refused: `300` could mean seconds or milliseconds, and guessing wrong scales a workload to zero.
import { fail, ok, type Result } from './result.ts';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNIT_MS;

const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

export const DURATION_FORM = 'a duration such as 250ms, 30s, 5m or 1h30m';

/** Milliseconds of a duration such as `1h30m`; `0` alone is accepted as zero. */
export function parseDuration(text: string): Result<number> {
  const trimmed = text.trim();
  if (trimmed === '0') return ok(0);
  if (!WHOLE.test(trimmed)) return fail(`${JSON.stringify(text)} is not accepted: expected ${DURATION_FORM}`);
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART)) total += Number(amount) * UNIT_MS[unit as Unit];
  return ok(Math.round(total));
}

/** The shortest exact text for a whole number of milliseconds: 5400000 → `1h30m`, 1500 → `1s500ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  let rest = Math.round(ms);
  let text = '';
  for (const unit of ['h', 'm', 's', 'ms'] as const) {
    const count = Math.floor(rest / UNIT_MS[unit]);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * UNIT_MS[unit];
  }
  return text;
}
