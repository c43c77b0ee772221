// How `kubectl ebb` prints: aligned tables as kubectl prints them, or the same data as JSON or
// YAML for scripts. Pure (strings in, strings out) so that tests compare text.
import { stringify } from 'yaml';
import { formatCpu } from '../../core/quantity.ts';
import type { OutputFormat } from './args.ts';

/** Columns padded to their widest cell, two spaces apart; trailing spaces trimmed. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** The data of a command as JSON or YAML; undefined for the table form (the command prints its own). */
export function structured(format: OutputFormat, data: unknown): string | undefined {
  if (format === 'json') return JSON.stringify(data, null, 2) + '\n';
  if (format === 'yaml') return stringify(data);
  return undefined;
}

/** How long ago, as kubectl's AGE column says it: `45s`, `12m`, `3h`, `2d`; `-` for never. */
export function age(iso: string | null | undefined, now: number): string {
  const at = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(at)) return '-';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7_200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3_600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** CPU for people: `250m`, `2`, `-`. */
export const cpu = (millicores: number | undefined): string => (millicores === undefined ? '-' : formatCpu(millicores));

/** Memory for people, in the largest binary unit that leaves at least 1, to at most one decimal: `63Mi`, `1.5Gi`, `512Ki`. */
export function memory(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const sign = bytes < 0 ? '-' : '';
  const size = Math.abs(bytes);
  for (const [suffix, unit] of [
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ] as const) {
    if (size >= unit) return `${sign}${Math.round((size / unit) * 10) / 10}${suffix}`;
  }
  return `${sign}${size}`;
}
