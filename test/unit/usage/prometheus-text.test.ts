import { expect } from 'chai';
import fc from 'fast-check';
import { parsePrometheusText } from '../../../src/core/usage/prometheus-text.ts';

// What a kubelet 1.35 answers on /metrics/resource (trimmed): HELP/TYPE comments, labels, ms timestamps.
const KUBELET = `# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="shop",pod="web-7d9f-abcde"} 12.345678 1764590000123
container_cpu_usage_seconds_total{container="ebb-interceptor",namespace="shop",pod="web-7d9f-abcde"} 0.5 1764590000123
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="shop",pod="web-7d9f-abcde"} 5.4001664e+07 1764590000123
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
node_cpu_usage_seconds_total 3.2e+06 1764590000000
scrape_error 0
`;

describe('parsePrometheusText', () => {
  it("reads the kubelet's resource metrics: names, labels, values and ms timestamps", () => {
    const { samples, problems } = parsePrometheusText(KUBELET);
    expect(problems).to.deep.equal([]);
    expect(samples).to.have.length(5);
    expect(samples[0]).to.deep.equal({
      name: 'container_cpu_usage_seconds_total',
      labels: { container: 'app', namespace: 'shop', pod: 'web-7d9f-abcde' },
      value: 12.345678,
      timestampMs: 1764590000123,
    });
    expect(samples[2]?.value).to.equal(54_001_664);
    expect(samples[3]).to.deep.equal({ name: 'node_cpu_usage_seconds_total', labels: {}, value: 3.2e6, timestampMs: 1764590000000 });
    expect(samples[4]).to.deep.equal({ name: 'scrape_error', labels: {}, value: 0 });
  });

  it('unescapes label values, accepts spaces, a trailing comma, NaN and ±Inf', () => {
    const { samples, problems } = parsePrometheusText(
      ['m{a="quote \\" backslash \\\\ newline \\n end", b = "x" ,} 1', 'm{} NaN', 'm +Inf', 'm\t-Inf\t-5'].join('\n'),
    );
    expect(problems).to.deep.equal([]);
    expect(samples[0]?.labels).to.deep.equal({ a: 'quote " backslash \\ newline \n end', b: 'x' });
    expect(Number.isNaN(samples[1]?.value)).to.equal(true);
    expect(samples[2]?.value).to.equal(Infinity);
    expect(samples[3]).to.deep.include({ value: -Infinity, timestampMs: -5 });
  });

  it('skips a line it cannot read, says which and why, and keeps the others', () => {
    const { samples, problems } = parsePrometheusText(
      ['ok 1', '{a="1"} 2', 'm{a="1" 3', 'm{a=1} 4', 'm 1 2 3', 'm one', 'm 1 1.5', 'm{a="open} 5', 'ok 2'].join('\n'),
    );
    expect(samples.map((sample) => sample.value)).to.deep.equal([1, 2]);
    expect(problems).to.deep.equal([
      'line 2: no metric name',
      'line 3: expected , or } after label a',
      'line 4: expected ="…" after label a',
      'line 5: expected a value and an optional timestamp',
      'line 6: "one" is not a number',
      'line 7: "1.5" is not a timestamp in ms',
      'line 8: unterminated value of label a',
    ]);
  });

  it('reads back what a writer escaped, for any label value and number', () => {
    const escape = (text: string) => text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    // Go's strconv.FormatFloat as client_golang writes values: -0 and ±Inf spelled its way.
    const format = (value: number) => (Object.is(value, -0) ? '-0' : Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : '-Inf');
    fc.assert(
      fc.property(fc.string(), fc.double({ noNaN: true }), fc.option(fc.integer({ min: 0, max: 2 ** 50 }), { nil: undefined }), (label, value, timestampMs) => {
        const line = `metric_name{label="${escape(label)}"} ${format(value)}${timestampMs === undefined ? '' : ` ${timestampMs}`}`;
        const { samples, problems } = parsePrometheusText(line);
        expect(problems).to.deep.equal([]);
        expect(samples).to.deep.equal([{ name: 'metric_name', labels: { label }, value, ...(timestampMs === undefined ? {} : { timestampMs }) }]);
      }),
    );
  });
});
