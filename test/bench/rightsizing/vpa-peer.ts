// The VPA's recommender as the right-sizing benchmark's peer: one container's usage trace goes
// through the VPA's own model and logic packages (vpa-peer/main.go, k8s.io/autoscaler
// vertical-pod-autoscaler v1.8.1, default settings) and comes back as the recommendations the VPA
// would publish at each tick. All zeros at a tick means the VPA has none there (no sample yet, or
// its history was dropped after 8 days without one).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { ensureGoPeer } from '../../../src/localcluster/go-peer.ts';

type Bounds = { target: number; lower: number; upper: number };
type Recommendation = { at: number; cpu: Bounds; memory: Bounds };
type Trace = {
  samples: { at: number; cpuCores: number; memoryBytes: number }[];
  /** memoryBytes: the container's memory request when it was OOM-killed (what the VPA's OOM observer reads). */
  ooms: { at: number; memoryBytes: number }[];
  recommendEveryMs: number;
};

const PEER_MODULE = join(dirname(fileURLToPath(import.meta.url)), 'vpa-peer');
/** A 70,000-sample trace takes well under a second; a peer still running after this is stuck. */
const RUN_TIMEOUT_MS = 60_000;
const LINES_PER_CHUNK = 1_000;

/** Builds the peer when needed (a first build takes about two minutes), runs it on one trace. */
export async function runVpaPeer(trace: Trace): Promise<Recommendation[]> {
  if (!(trace.recommendEveryMs > 0)) throw new Error(`recommendEveryMs must be > 0, got ${trace.recommendEveryMs}`);
  const binary = await ensureGoPeer(PEER_MODULE, 'vpa-peer', (line) => console.error(`vpa-peer: ${line}`));
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const recommendations: Recommendation[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => recommendations.push(JSON.parse(line) as Recommendation));
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  let ticks = 0;
  try {
    const fed = pipeline(Readable.from(chunks(traceLines(trace, () => (ticks += 1)))), child.stdin);
    const [[code, signal]] = await Promise.all([exited, fed.catch(() => undefined)]);
    if (signal === 'SIGKILL') throw new Error(`vpa-peer did not finish within ${RUN_TIMEOUT_MS / 1000} s; killed`);
    if (code !== 0) throw new Error(`vpa-peer exited with ${code ?? signal}: ${stderr.trim()}`);
    if (recommendations.length !== ticks) {
      throw new Error(`vpa-peer answered ${recommendations.length} of ${ticks} recommend ticks: ${stderr.trim()}`);
    }
    if (stderr.trim()) console.error(stderr.trim());
    return recommendations;
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
}

/**
 * Samples, OOMs and recommend ticks in time order. Ticks run every recommendEveryMs from the first
 * sample to the last event; at one instant samples come first, then OOMs, then the tick, which is
 * the order of the VPA's loop (metrics, then the OOMs it observed, then the recommendation).
 */
function* traceLines(trace: Trace, onTick: () => void): Generator<string> {
  const samples = [...trace.samples].sort((a, b) => a.at - b.at);
  const ooms = [...trace.ooms].sort((a, b) => a.at - b.at);
  const first = samples[0];
  if (!first) return;
  const end = Math.max(samples[samples.length - 1]?.at ?? first.at, ooms[ooms.length - 1]?.at ?? first.at);
  let nextTick = first.at;
  let s = 0;
  let o = 0;
  for (;;) {
    const sample = samples[s];
    const oom = ooms[o];
    const sampleAt = sample?.at ?? Infinity;
    const oomAt = oom?.at ?? Infinity;
    const tickAt = nextTick <= end ? nextTick : Infinity;
    if (sample && sampleAt <= oomAt && sampleAt <= tickAt) {
      yield JSON.stringify({ type: 'sample', at: sample.at, cpuCores: sample.cpuCores, memoryBytes: sample.memoryBytes });
      s += 1;
    } else if (oom && oomAt <= tickAt) {
      yield JSON.stringify({ type: 'oom', at: oom.at, memoryBytes: oom.memoryBytes });
      o += 1;
    } else if (tickAt !== Infinity) {
      yield JSON.stringify({ type: 'recommend', at: tickAt });
      onTick();
      nextTick += trace.recommendEveryMs;
    } else {
      return;
    }
  }
}

/** Joins lines into larger writes: one pipe write per line would cost more than the peer's work. */
function* chunks(lines: Iterable<string>): Generator<string> {
  let batch: string[] = [];
  for (const line of lines) {
    batch.push(line);
    if (batch.length === LINES_PER_CHUNK) {
      yield `${batch.join('\n')}\n`;
      batch = [];
    }
  }
  if (batch.length > 0) yield `${batch.join('\n')}\n`;
}
