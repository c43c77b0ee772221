// Kubernetes resource quantities (`250m`, `0.5`, `2`, `512Mi`, `1G`, `1e3`) for CPU and memory.
// The grammar is the API server's: a decimal number, then one of a binary suffix (Ki…Ei), a
// decimal suffix (n, u, m, k, M, G, T, P, E) or a decimal exponent (e3, E-2). Like the API server,
// CPU is rounded up to whole millicores and memory up to whole bytes.
import { fail, ok, type Result } from './result.ts';

const BINARY = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 } as const;
const DECIMAL = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 } as const;
const QUANTITY = /^\+?(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E)?)$/;

export const CPU_FORM = 'a CPU quantity such as 250m, 0.5 or 2';
export const MEMORY_FORM = 'a memory quantity such as 512Mi, 1Gi, 1G or 1e9';

/** The value of a non-negative quantity in base units (cores, bytes); undefined if not a quantity. */
function quantityValue(text: string): number | undefined {
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  const [, number, binary, exponent, decimal] = match;
  const scale = binary ? BINARY[binary as keyof typeof BINARY] : exponent ? 10 ** Number(exponent.slice(1)) : DECIMAL[(decimal ?? '') as keyof typeof DECIMAL];
  const value = Number(number) * scale;
  return Number.isFinite(value) ? value : undefined;
}

function parseScaled(text: string, unitsPerBase: number, form: string): Result<number> {
  const value = quantityValue(text);
  if (value === undefined) return fail(`${JSON.stringify(text)} is not accepted: expected ${form}`);
  // Rounding away binary floating-point noise first: 0.1 cores is 100m, not 101m.
  const scaled = Math.ceil(Number((value * unitsPerBase).toPrecision(15)));
  if (!Number.isSafeInteger(scaled)) return fail(`${JSON.stringify(text)} is not accepted: it is too large`);
  return ok(scaled);
}

/** Millicores of a CPU quantity: `250m` → 250, `0.5` → 500, `2` → 2000. */
export function parseCpu(text: string): Result<number> {
  return parseScaled(text, 1000, CPU_FORM);
}

/** Bytes of a memory quantity: `512Mi` → 536870912, `1G` → 1e9. */
export function parseMemory(text: string): Result<number> {
  return parseScaled(text, 1, MEMORY_FORM);
}

/** `2000` → `2`, `250` → `250m`: whole cores without a suffix, as kubectl shows them. */
export function formatCpu(millicores: number): string {
  return millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`;
}

const BINARY_LARGEST_FIRST = Object.entries(BINARY).reverse();

/** The largest binary suffix that divides exactly (`512Mi`), else decimal (`1G`), else bytes. */
export function formatMemory(bytes: number): string {
  if (bytes === 0) return '0';
  for (const [suffix, size] of BINARY_LARGEST_FIRST) {
    if (bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  for (const suffix of ['E', 'P', 'T', 'G', 'M', 'k'] as const) {
    if (bytes % DECIMAL[suffix] === 0) return `${bytes / DECIMAL[suffix]}${suffix}`;
  }
  return String(bytes);
}
