import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_POLICY } from '../../../src/core/policy.ts';
import { DEFAULT_SIZING, parseSizing, type SizingConfig } from '../../../src/core/recommender/index.ts';
import { SIZING_FIELDS } from '../../../src/core/recommender/sizing.ts';
import { accepted, rejected } from './policy-texts.ts';

const MiB = 2 ** 20;

const sizingOf = (text: string): SizingConfig => accepted(text).sizing;
const messagesOf = (text: string): string[] => rejected(text).map((error) => error.message);

describe('policy sizing:', () => {
  it('is every default when absent or empty', () => {
    expect(DEFAULT_POLICY.sizing).to.deep.equal(DEFAULT_SIZING);
    expect(sizingOf('')).to.deep.equal(DEFAULT_SIZING);
    expect(sizingOf('sizing: {}')).to.deep.equal(DEFAULT_SIZING);
    expect(sizingOf('sizing:\n  cpuMargin:\n')).to.deep.equal(DEFAULT_SIZING);
  });

  it('reads every field in its own form', () => {
    expect(
      sizingOf(`
sizing:
  cpuHalfLife: 24h
  cpuPercentile: 0.6
  cpuUpperPercentile: "0.99"
  cpuRecentWindow: 10m
  cpuRecentPercentile: 0.5
  cpuDecreaseDelay: 1h
  cpuMargin: 0.15
  cpuFloor: 25m
  memoryPeakInterval: 2h
  memoryPeakIntervals: 12
  memoryMargin: 0
  memoryFloor: 32Mi
  oomBumpRatio: 1.5
  oomMinBump: 100Mi
  decreaseAfter: 30m
  maxSampleGap: 2m
  tolerance: 0.2
`),
    ).to.deep.equal({
      cpuHalfLifeMs: 24 * 3_600_000,
      cpuPercentile: 0.6,
      cpuUpperPercentile: 0.99,
      cpuRecentWindowMs: 10 * 60_000,
      cpuRecentPercentile: 0.5,
      cpuDecreaseDelayMs: 3_600_000,
      cpuMargin: 0.15,
      cpuFloorMillis: 25,
      memoryPeakIntervalMs: 2 * 3_600_000,
      memoryPeakIntervals: 12,
      memoryMargin: 0,
      memoryFloorBytes: 32 * MiB,
      oomBumpRatio: 1.5,
      oomMinBumpBytes: 100 * MiB,
      decreaseAfterMs: 30 * 60_000,
      maxSampleGapMs: 2 * 60_000,
      tolerance: 0.2,
    } satisfies SizingConfig);
  });

  it('names the field, the value and what is accepted, like every policy error', () => {
    const cases: [string, string][] = [
      ['cpuPercentile: 1.5', 'policy.yaml sizing.cpuPercentile: "1.5" is not accepted: expected a number between 0.05 and 0.99'],
      ['cpuMargin: "-0.1"', 'policy.yaml sizing.cpuMargin: "-0.1" is not accepted: expected a number between 0 and 1'],
      ['cpuMargin: ten', 'policy.yaml sizing.cpuMargin: "ten" is not accepted: expected a number between 0 and 1'],
      ['cpuHalfLife: 300', 'policy.yaml sizing.cpuHalfLife: "300" is not accepted: expected a duration such as 250ms, 30s, 5m or 1h30m, from 10m to 720h'],
      ['cpuHalfLife: 1m', 'policy.yaml sizing.cpuHalfLife: "1m" is not accepted: expected a duration such as 250ms, 30s, 5m or 1h30m, from 10m to 720h'],
      [
        'cpuRecentWindow: 90s',
        'policy.yaml sizing.cpuRecentWindow: "90s" is not accepted: expected a duration such as 250ms, 30s, 5m or 1h30m, from 1m to 30m in whole 1m',
      ],
      [
        'cpuDecreaseDelay: 7m',
        'policy.yaml sizing.cpuDecreaseDelay: "7m" is not accepted: expected a duration such as 250ms, 30s, 5m or 1h30m, from 0 to 2h in whole 5m',
      ],
      ['cpuFloor: lots', 'policy.yaml sizing.cpuFloor: "lots" is not accepted: expected a CPU quantity such as 250m, 0.5 or 2, from 1m to 1'],
      ['memoryFloor: 2Gi', 'policy.yaml sizing.memoryFloor: "2Gi" is not accepted: expected a memory quantity such as 512Mi, 1Gi, 1G or 1e9, from 1Mi to 1Gi'],
      ['memoryPeakIntervals: 2.5', 'policy.yaml sizing.memoryPeakIntervals: "2.5" is not accepted: expected a whole number from 1 to 24'],
      ['oomBumpRatio: [1.2]', 'policy.yaml sizing.oomBumpRatio: [1.2] is not accepted: expected a single value'],
      ['tolerance: 0', 'policy.yaml sizing.tolerance: "0" is not accepted: expected a number between 0.01 and 1'],
      ['cpuPercentiel: 0.9', 'policy.yaml sizing.cpuPercentiel: unknown field "cpuPercentiel": known fields are cpuHalfLife, cpuPercentile,'],
      ['toString: 1', 'policy.yaml sizing.toString: unknown field "toString"'],
      [
        'cpuPercentile: 0.97\n  cpuUpperPercentile: 0.95',
        'policy.yaml sizing.cpuPercentile: "0.97" is not accepted: it must not exceed sizing.cpuUpperPercentile (0.95)',
      ],
    ];
    for (const [field, message] of cases) {
      const messages = messagesOf(`sizing:\n  ${field}\n`);
      expect(messages, field).to.have.length(1);
      expect(messages[0], field).to.include(message);
    }
    expect(messagesOf('sizing: 5')).to.deep.equal(['policy.yaml sizing: 5 is not accepted: expected a mapping']);
  });

  it('reports every problem at once, and parseSizing keeps the fields that were fine', () => {
    const problems: string[] = [];
    const config = parseSizing({ cpuMargin: '0.2', tolerance: 'x', memoryMargin: 7 }, (path, value, problem) =>
      problems.push(`${path}=${String(value)}: ${problem}`),
    );
    expect(problems).to.deep.equal([
      'sizing.tolerance=x: "x" is not accepted: expected a number between 0.01 and 1',
      'sizing.memoryMargin=7: "7" is not accepted: expected a number between 0 and 1',
    ]);
    expect(config).to.deep.equal({ ...DEFAULT_SIZING, cpuMargin: 0.2 });
  });

  it('is written out with every default and a comment each in manifests/namespace/policy.yaml', () => {
    const configMap = parseYaml(readFileSync('manifests/namespace/policy.yaml', 'utf8')) as { data: { 'policy.yaml': string } };
    const text = configMap.data['policy.yaml'];
    expect(sizingOf(text)).to.deep.equal(DEFAULT_SIZING);
    const section = (parseYaml(text) as { sizing: Record<string, unknown> }).sizing;
    expect(Object.keys(section)).to.have.members(Object.keys(SIZING_FIELDS));
    for (const name of Object.keys(SIZING_FIELDS)) expect(text, name).to.match(new RegExp(`#[^\\n]*\\n\\s+${name}:`));
  });
});
