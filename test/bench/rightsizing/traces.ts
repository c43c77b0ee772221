// The right-sizing benchmark's usage traces: one container each, a sample every 10 s of simulated
// time, generated from a seeded PRNG so every run feeds both recommenders the very same numbers.
// Each shape is one way real workloads behave, and each is described where it is built. Levels
// follow fleet surveys (CPU mostly well under a core; many containers under 250 MiB of memory).

import { normalFrom, seededRandom } from '../../fixtures/random.ts';

export const SAMPLE_EVERY_MS = 10_000;
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
const MIB = 2 ** 20;
/** Monday 5 January 2026, 00:00 UTC: traces start on a Monday so the weekly shape is readable. */
const START = Date.UTC(2026, 0, 5);
const DAYS = 8;

export interface TraceSample {
  at: number;
  cpuCores: number;
  memoryBytes: number;
}

export interface Trace {
  name: string;
  description: string;
  samples: TraceSample[];
  /** OOM kills; memoryBytes is the memory the container was killed at (its limit). */
  ooms: { at: number; memoryBytes: number }[];
  /** A level change to follow: from `at` on, usage stays at its new level. */
  step?: { at: number; direction: 'up' | 'down' };
}

/** Daytime activity, 0 at 02:00 UTC and 1 at 14:00, smooth in between. */
const daytime = (at: number) => (1 - Math.cos((2 * Math.PI * (((at - START) % DAY_MS) - 2 * HOUR_MS)) / DAY_MS)) / 2;
const isWeekend = (at: number) => Math.floor((at - START) / DAY_MS) % 7 >= 5;

interface Shape {
  name: string;
  description: string;
  seed: number;
  /** Time ranges with samples, from the trace's start (default: all 8 days). */
  active?: readonly (readonly [number, number])[];
  step?: Trace['step'];
  /** Usage at one instant, from the shape's own random source. */
  usage(at: number, draw: { uniform: () => number; normal: () => number }): { cpuCores: number; memoryBytes: number; oomAt?: number };
}

function build(shape: Shape): Trace {
  const uniform = seededRandom(shape.seed);
  const draw = { uniform, normal: normalFrom(uniform) };
  const samples: TraceSample[] = [];
  const ooms: Trace['ooms'] = [];
  for (const [from, to] of shape.active ?? [[0, DAYS * DAY_MS]]) {
    for (let offset = from; offset < to; offset += SAMPLE_EVERY_MS) {
      const at = START + offset;
      const { cpuCores, memoryBytes, oomAt } = shape.usage(at, draw);
      if (oomAt !== undefined) ooms.push({ at, memoryBytes: oomAt });
      samples.push({ at, cpuCores: Math.max(0, cpuCores), memoryBytes: Math.max(0, Math.round(memoryBytes)) });
    }
  }
  return { name: shape.name, description: shape.description, samples, ooms, ...(shape.step ? { step: shape.step } : {}) };
}

/** 3.5 days in, between two 5-minute recommendation ticks (as a real step would be). */
const STEP_AT = START + 3.5 * DAY_MS + 150_000;

/** A leak that grows until the kernel kills the container at its limit; state kept across calls. */
function leakingMemory() {
  const limit = 1024 * MIB;
  let startedAt = START;
  return (at: number, noise: number) => {
    const grown = 250 * MIB + (30 * MIB * (at - startedAt)) / HOUR_MS;
    if (grown < limit) return { memoryBytes: grown * (1 + noise) };
    startedAt = at;
    return { memoryBytes: 250 * MIB, oomAt: limit };
  };
}

/** The load ×3 (`up`) or ÷3 (`down`) at STEP_AT: CPU 300m ↔ 900m, working set 200 ↔ 600 MiB (±10 % / ±2 %). */
function steppedLoad(direction: 'up' | 'down', seed: number, description: string): Shape {
  return {
    name: `step-${direction}`,
    description,
    seed,
    step: { at: STEP_AT, direction },
    usage: (at, { normal }) => {
      const level = at < STEP_AT === (direction === 'up') ? 1 : 3;
      return { cpuCores: 0.3 * level * (1 + 0.1 * normal()), memoryBytes: 200 * MIB * level * (1 + 0.02 * normal()) };
    },
  };
}

const SHAPES: readonly (() => Shape)[] = [
  () => ({
    name: 'steady',
    description: 'A steady API service: 250m CPU with ±15 % noise (σ), 180 MiB working set with ±2 %.',
    seed: 1,
    usage: (_at, { normal }) => ({ cpuCores: 0.25 * (1 + 0.15 * normal()), memoryBytes: 180 * MIB * (1 + 0.02 * normal()) }),
  }),
  () => ({
    name: 'diurnal',
    description: 'A web front-end following the day: CPU 100m at 02:00 to 700m at 14:00 UTC (±10 %), caches 400 → 550 MiB with the traffic.',
    seed: 2,
    usage: (at, { normal }) => ({
      cpuCores: (0.1 + 0.6 * daytime(at)) * (1 + 0.1 * normal()),
      memoryBytes: (400 + 150 * daytime(at)) * MIB * (1 + 0.01 * normal()),
    }),
  }),
  () => ({
    name: 'weekly',
    description: 'A business app: weekdays like diurnal up to 800m, weekends (Sat, Sun) at a quarter of that; memory 600 MiB + 100 MiB with traffic.',
    seed: 3,
    usage: (at, { normal }) => {
      const load = daytime(at) * (isWeekend(at) ? 0.25 : 1);
      return { cpuCores: (0.08 + 0.72 * load) * (1 + 0.1 * normal()), memoryBytes: (600 + 100 * load) * MIB * (1 + 0.01 * normal()) };
    },
  }),
  () => {
    let burstUntil = -Infinity;
    let burstCores = 0;
    return {
      name: 'bursty',
      description:
        'A queue worker: 50m idle (±20 %), bursts of 1–2 cores lasting 20 s–2 min arriving every ~20 min (Poisson); 90 MiB, +40 MiB of buffers during a burst.',
      seed: 4,
      usage: (at, { uniform, normal }) => {
        if (at >= burstUntil && uniform() < SAMPLE_EVERY_MS / (20 * MINUTE_MS)) {
          burstUntil = at + 20_000 + uniform() * 100_000;
          burstCores = 1 + uniform();
        }
        const bursting = at < burstUntil;
        return {
          cpuCores: bursting ? burstCores * (1 + 0.1 * normal()) : 0.05 * (1 + 0.2 * normal()),
          memoryBytes: (bursting ? 130 : 90) * MIB * (1 + 0.02 * normal()),
        };
      },
    };
  },
  () => steppedLoad('up', 5, 'A release triples the load 3.5 days in: CPU 300m → 900m and working set 200 → 600 MiB at once (±10 % / ±2 %).'),
  () => steppedLoad('down', 6, 'Traffic moves elsewhere 3.5 days in: CPU 900m → 300m and working set 600 → 200 MiB at once (±10 % / ±2 %).'),
  () => {
    const memory = leakingMemory();
    return {
      name: 'sawtooth',
      description:
        'A leaking service: 150m CPU (±15 %); working set grows 30 MiB/h from 250 MiB until it is OOM-killed at its 1 GiB limit (every ~26 h), then starts over.',
      seed: 7,
      usage: (at, { normal }) => ({ cpuCores: 0.15 * (1 + 0.15 * normal()), ...memory(at, 0.005 * normal()) }),
    };
  },
  () => ({
    name: 'jvm',
    description: 'A JVM service: 500m CPU (±25 %) with a GC burst to 2× for 10 s every 5 min; memory flat at the committed heap, 1.5 GiB (±0.5 %).',
    seed: 8,
    usage: (at, { normal }) => {
      const collecting = (at - START) % (5 * MINUTE_MS) < SAMPLE_EVERY_MS;
      return { cpuCores: 0.5 * (collecting ? 2 : 1) * (1 + 0.25 * normal()), memoryBytes: 1536 * MIB * (1 + 0.005 * normal()) };
    },
  }),
  () => ({
    name: 'asleep',
    description:
      'An internal tool ebbed to zero: 3 days of diurnal use (50m → 400m, 120 → 160 MiB), 10 days at zero (no samples at all), 3 days of the same use again.',
    seed: 9,
    active: [
      [0, 3 * DAY_MS],
      [13 * DAY_MS, 16 * DAY_MS],
    ],
    usage: (at, { normal }) => ({
      cpuCores: (0.05 + 0.35 * daytime(at)) * (1 + 0.1 * normal()),
      memoryBytes: (120 + 40 * daytime(at)) * MIB * (1 + 0.01 * normal()),
    }),
  }),
];

/** Every trace, freshly generated (deterministic: the same numbers on every call). */
export function traces(): Trace[] {
  return SHAPES.map((shape) => build(shape()));
}
