// The Prometheus text exposition format (version 0.0.4), as the kubelet's /metrics/resource
// serves it: `name{label="value",…} value [timestamp]`, with `# HELP` / `# TYPE` comments.
// A line that does not parse is skipped and named in `problems`: one odd series must not cost the
// figures of every other container on the node.

export interface PrometheusSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
  /** Epoch ms, when the exporter stamped the sample (the kubelet does; KWOK does not). */
  timestampMs?: number;
}

export interface ParsedExposition {
  samples: PrometheusSample[];
  /** `line N: why`, for each line skipped. */
  problems: string[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', n: '\n' };

export function parsePrometheusText(text: string): ParsedExposition {
  const samples: PrometheusSample[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parsed = parseSampleLine(line);
    if (typeof parsed === 'string') problems.push(`line ${index + 1}: ${parsed}`);
    else samples.push(parsed);
  });
  return { samples, problems };
}

/** One sample line, or why it is not one. */
function parseSampleLine(line: string): PrometheusSample | string {
  const name = METRIC_NAME.exec(line)?.[0];
  if (!name) return 'no metric name';
  let rest = line.slice(name.length);
  let labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest);
    if (typeof parsed === 'string') return parsed;
    labels = parsed.labels;
    rest = parsed.rest;
  }
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') return 'expected a value and an optional timestamp';
  const value = parseValue(fields[0]!);
  if (value === undefined) return `${JSON.stringify(fields[0])} is not a number`;
  if (fields[1] === undefined) return { name, labels, value };
  const timestampMs = Number(fields[1]);
  if (!/^-?\d+$/.test(fields[1]) || !Number.isSafeInteger(timestampMs)) return `${JSON.stringify(fields[1])} is not a timestamp in ms`;
  return { name, labels, value, timestampMs };
}

/** `{a="1",b="x\"y"}` at the start of `text`, and what follows it. */
function parseLabels(text: string): { labels: Record<string, string>; rest: string } | string {
  const labels: Record<string, string> = {};
  let at = 1;
  const skipSpace = () => {
    while (text[at] === ' ' || text[at] === '\t') at++;
  };
  for (;;) {
    skipSpace();
    if (text[at] === '}') return { labels, rest: text.slice(at + 1) };
    const labelName = LABEL_NAME.exec(text.slice(at))?.[0];
    if (!labelName) return `bad label name at column ${at + 1}`;
    at += labelName.length;
    skipSpace();
    if (text[at] !== '=') return `expected ="…" after label ${labelName}`;
    at++;
    skipSpace();
    if (text[at] !== '"') return `expected ="…" after label ${labelName}`;
    at++;
    let value = '';
    for (;;) {
      const char = text[at];
      if (char === undefined) return `unterminated value of label ${labelName}`;
      at++;
      if (char === '"') break;
      if (char !== '\\') {
        value += char;
        continue;
      }
      const escaped = text[at++];
      value += escaped !== undefined && escaped in ESCAPES ? ESCAPES[escaped] : `\\${escaped ?? ''}`;
    }
    labels[labelName] = value;
    skipSpace();
    if (text[at] === ',') at++;
    else if (text[at] !== '}') return `expected , or } after label ${labelName}`;
  }
}

/** Go's ParseFloat forms that exporters write, NaN and ±Inf included. */
function parseValue(text: string): number | undefined {
  if (text === 'NaN') return NaN;
  if (/^[+-]?Inf$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}
