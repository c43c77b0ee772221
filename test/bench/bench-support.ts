// Shared by the data-path benchmarks: process CPU/RSS from /proc, percentiles, the interceptor
// bundled the way it would ship (plain JS, no TypeScript loader in the measured process), and
// the RESULT line + JSON file convention.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** utime+stime of a process in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * A thread's time on a CPU and runnable but waiting for one, in ms (the kernel's schedstat; a
 * process's main thread has the process's id). The wait is what a busy machine adds to its work.
 */
export function threadSchedMs(pid: number, tid = pid): { onCpu: number; waiting: number } {
  const [onCpu = 0, waiting = 0] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
  return { onCpu: onCpu / 1e6, waiting: waiting / 1e6 };
}

/** A process's resident memory in MB: now, its high-water mark, and now's anonymous (heaps) and file-backed (the binary) parts. */
export function rssMB(pid: number): { rss: number; peak: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Bundles agent/interceptor/main.ts to one JS file (dependencies stay in node_modules). */
export function bundleInterceptor(): string {
  const out = join('node_modules', '.cache', 'ebb-bench', 'interceptor.mjs');
  execFileSync('node_modules/.bin/esbuild', [
    'agent/interceptor/main.ts',
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--packages=external',
    `--outfile=${out}`,
    '--log-level=warning',
  ]);
  return out;
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export function writeResult(name: string, figures: Record<string, number | string | boolean>): void {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(join('bench/results', `${name}.json`), `${JSON.stringify(figures, null, 2)}\n`);
  console.log(
    `RESULT ${name} ${Object.entries(figures)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toFixed(3)) : v}`)
      .join(' ')}`,
  );
}

export { sleep } from '../fixtures/wait.ts';
