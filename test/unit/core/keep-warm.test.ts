import { expect } from 'chai';
import { formatKeepWarm, parseKeepWarm } from '../../../src/core/keep-warm.ts';

describe('parseKeepWarm', () => {
  it('reads the documented example', () => {
    expect(parseKeepWarm('Mon-Fri 08:00-19:00 Europe/Berlin replicas=2; Sat 10:00-14:00 UTC')).to.deep.equal({
      ok: true,
      value: [
        { days: [1, 2, 3, 4, 5], startMinute: 480, endMinute: 1140, timeZone: 'Europe/Berlin', replicas: 2 },
        { days: [6], startMinute: 600, endMinute: 840, timeZone: 'UTC', replicas: 1 },
      ],
    });
  });

  const cases: [string, object][] = [
    ['Mon,Wed,Fri 09:00-17:00', { days: [1, 3, 5], timeZone: 'UTC', replicas: 1 }],
    ['Fri-Mon 22:00-02:00 America/New_York', { days: [0, 1, 5, 6], startMinute: 1320, endMinute: 120 }],
    ['sat,sun 00:00-24:00 utc replicas=3', { days: [0, 6], endMinute: 1440, timeZone: 'UTC', replicas: 3 }],
    ['07:00-08:00', { days: [0, 1, 2, 3, 4, 5, 6] }],
    ['Mon-Wed,Fri 07:00-08:00', { days: [1, 2, 3, 5] }],
  ];
  for (const [text, expected] of cases) {
    it(`reads ${JSON.stringify(text)}`, () => {
      const parsed = parseKeepWarm(text);
      expect(parsed.ok).to.equal(true);
      if (parsed.ok) expect(parsed.value[0]).to.deep.include(expected);
    });
  }

  it('reads an empty value as no windows, which clears a lower level', () => {
    expect(parseKeepWarm('')).to.deep.equal({ ok: true, value: [] });
  });

  const invalid: [string, string][] = [
    ['Mon-Fry 08:00-19:00', '"Mon-Fry" is not a day'],
    ['Mon 08:00-25:00', 'is not a time range'],
    ['Mon 8-19', 'is not a time range'],
    ['Mon 09:00-09:00', 'start and end are equal'],
    ['Mon 08:00-19:00 Mars/Olympus', '"Mars/Olympus" is not a time zone'],
    ['Mon 08:00-19:00 weekdays', '"weekdays" is not a day list, time range or time zone'],
    ['Mon 08:00-19:00 replicas=0', 'replicas=N with N a whole number ≥ 1'],
    ['Mon 08:00-19:00 replicas=two', 'replicas=N'],
    ['Mon Europe/Berlin', 'has no time range'],
    ['Mon 08:00-09:00 10:00-11:00', 'two time ranges'],
    ['Mon Tue 08:00-09:00', 'two day lists'],
    ['Mon 08:00-09:00 UTC Europe/Berlin', 'two time zones'],
    ['Mon 08:00-09:00; Tue 25:00-26:00', 'in window "Tue 25:00-26:00"'],
  ];
  for (const [text, problem] of invalid) {
    it(`refuses ${JSON.stringify(text)}: ${problem}`, () => {
      const parsed = parseKeepWarm(text);
      expect(parsed.ok).to.equal(false);
      if (!parsed.ok)
        expect(parsed.error)
          .to.include(`${JSON.stringify(text)} is not accepted`)
          .and.include(problem);
    });
  }

  it('formats windows as text that reads back to the same windows', () => {
    for (const text of [
      'Mon-Fri 08:00-19:00 Europe/Berlin replicas=2; Sat 10:00-14:00 UTC',
      'Fri-Mon 22:00-02:00',
      'Mon,Wed 00:00-24:00 Asia/Tokyo replicas=5',
    ]) {
      const parsed = parseKeepWarm(text);
      if (!parsed.ok) throw new Error(parsed.error);
      expect(parseKeepWarm(formatKeepWarm(parsed.value))).to.deep.equal(parsed);
    }
    const parsed = parseKeepWarm('Mon-Fri 08:00-19:00 Europe/Berlin replicas=2');
    expect(parsed.ok && formatKeepWarm(parsed.value)).to.equal('Mon-Fri 08:00-19:00 Europe/Berlin replicas=2');
  });
});
