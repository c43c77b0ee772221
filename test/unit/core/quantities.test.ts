import { expect } from 'chai';
import { formatDuration, parseDuration } from '../../../src/core/duration.ts';
import { formatCpu, formatMemory, parseCpu, parseMemory } from '../../../src/core/quantity.ts';

describe('parseDuration', () => {
  const valid: [string, number][] = [
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['0', 0],
    [' 2m ', 120_000],
  ];
  for (const [text, ms] of valid) it(`reads ${JSON.stringify(text)} as ${ms} ms`, () => expect(parseDuration(text)).to.deep.equal({ ok: true, value: ms }));

  for (const text of ['300', '5x', '', 'm5', '-5m', '1h 30m', '5 m']) {
    it(`refuses ${JSON.stringify(text)}, naming it and the accepted form`, () => {
      const parsed = parseDuration(text);
      expect(parsed.ok).to.equal(false);
      if (!parsed.ok) expect(parsed.error).to.include(JSON.stringify(text)).and.include('30s, 5m');
    });
  }

  it('formats back to text that reads to the same duration', () => {
    for (const ms of [0, 250, 30_000, 5_400_000, 1_500, 86_400_000 + 1]) expect(parseDuration(formatDuration(ms))).to.deep.equal({ ok: true, value: ms });
    expect(formatDuration(5_400_000)).to.equal('1h30m');
  });
});

describe('CPU and memory quantities', () => {
  const cpu: [string, number][] = [
    ['250m', 250],
    ['0.5', 500],
    ['2', 2000],
    ['0.1', 100],
    ['1e3', 1_000_000],
    ['100000u', 100],
    ['0.0001', 1],
    ['+1', 1000],
  ];
  for (const [text, millis] of cpu) it(`CPU ${text} is ${millis}m`, () => expect(parseCpu(text)).to.deep.equal({ ok: true, value: millis }));

  const memory: [string, number][] = [
    ['512Mi', 536_870_912],
    ['1G', 1e9],
    ['1e3', 1000],
    ['1Gi', 2 ** 30],
    ['128974848', 128_974_848],
    ['129M', 129e6],
    ['1.5Ki', 1536],
    ['0.5', 1],
  ];
  for (const [text, bytes] of memory) it(`memory ${text} is ${bytes} bytes`, () => expect(parseMemory(text)).to.deep.equal({ ok: true, value: bytes }));

  for (const text of ['-1', 'lots', '1Mb', '1 Gi', '', '1e', 'Mi']) {
    it(`refuses ${JSON.stringify(text)} with the accepted forms`, () => {
      const [cpuResult, memoryResult] = [parseCpu(text), parseMemory(text)];
      expect(cpuResult.ok || memoryResult.ok).to.equal(false);
      if (!cpuResult.ok) expect(cpuResult.error).to.include(JSON.stringify(text)).and.include('250m');
      if (!memoryResult.ok) expect(memoryResult.error).to.include(JSON.stringify(text)).and.include('512Mi');
    });
  }

  it('refuses a quantity too large to count in bytes exactly', () => {
    expect(parseMemory('100Ei').ok).to.equal(false);
  });

  it('formats as kubectl shows them, and reads back', () => {
    expect([formatCpu(250), formatCpu(2000), formatCpu(1500)]).to.deep.equal(['250m', '2', '1500m']);
    expect([formatMemory(512 * 2 ** 20), formatMemory(1e9), formatMemory(1001), formatMemory(0)]).to.deep.equal(['512Mi', '1G', '1001', '0']);
    for (const bytes of [1, 1023, 1024, 3e9, 5 * 2 ** 30]) expect(parseMemory(formatMemory(bytes))).to.deep.equal({ ok: true, value: bytes });
  });
});
