// The results table the cluster benches print: measure, value, target, and whether the value met it.

export const seconds = (ms: number) => (ms / 1000).toFixed(1);
export const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

export const verdict = (value: number, target: number) => (value <= target ? 'ok' : 'MISS');
export const row = (measure: string, value: string, target = '', mark = '') =>
  `| ${measure.padEnd(52)} | ${value.padEnd(28)} | ${target.padEnd(10)} | ${mark.padEnd(4)} |`;
export const tableHeader = `${row('measure', 'value', 'target')}\n|${'-'.repeat(54)}|${'-'.repeat(30)}|${'-'.repeat(12)}|------|`;
