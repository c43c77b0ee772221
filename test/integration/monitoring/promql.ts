// The metric names a PromQL expression reads, for checking dashboards and alerts against what the
// programs export. A tokenizer, not a parser: it removes what cannot hold a metric name (strings,
// label matchers, ranges, grouping label lists, Grafana variables), then keeps each identifier
// that is not a function call or a keyword. PromQL's own grammar makes that enough: a metric name
// stands only where a selector stands.

/** A metric named in an expression, with the `job` its selector asks for, if any. */
export interface MetricUse {
  name: string;
  job?: string;
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'atan2',
  'inf',
  'nan',
  'start',
  'end',
]);

export function metricsUsed(expression: string): MetricUse[] {
  const jobs = new Map<number, string>();
  let text = expression
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    // Label matchers go, but a job="…" inside them is remembered against the selector before it.
    .replace(/\{([^}]*)\}/g, (_whole, matchers: string, offset: number) => {
      const job = /\bjob\s*=\s*"([^"]*)"/.exec(matchers)?.[1];
      if (job !== undefined) jobs.set(offset, job);
      return ' '.repeat(matchers.length + 2);
    })
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (string) => ' '.repeat(string.length))
    .replace(/\[[^\]]*\]/g, (range) => ' '.repeat(range.length));
  text = text.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, (clause) => ' '.repeat(clause.length));
  const uses: MetricUse[] = [];
  for (const match of text.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*(?![\w:])(?!\s*\()/g)) {
    const name = match[0];
    if (KEYWORDS.has(name.toLowerCase())) continue;
    const end = match.index + name.length;
    const job = jobs.get(end) ?? jobs.get(end + (/^\s*/.exec(text.slice(end))?.[0].length ?? 0));
    uses.push(job === undefined ? { name } : { name, job });
  }
  return uses;
}
