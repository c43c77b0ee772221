import { expect } from 'chai';
import { parseKeepWarm } from '../../../src/core/keep-warm.ts';
import { describeWindow, keepWarmFloor } from '../../../src/core/keep-warm-schedule.ts';
import type { KeepWarmWindow, Weekday } from '../../../src/core/settings.ts';

const WEEKDAYS: Weekday[] = [1, 2, 3, 4, 5];
const officeHours: KeepWarmWindow = {
  days: WEEKDAYS,
  startMinute: 8 * 60,
  endMinute: 19 * 60,
  timeZone: 'Europe/Berlin',
  replicas: 2,
};
const utc = (month: number, day: number, hour: number, minute = 0): number => Date.UTC(2026, month - 1, day, hour, minute);
const floorAt = (windows: KeepWarmWindow[], at: number): number => keepWarmFloor(windows, at).replicas;

describe('keepWarmFloor', () => {
  it('is 0 with no window active', () => {
    expect(keepWarmFloor([officeHours], utc(6, 1, 5, 59))).to.deep.equal({ replicas: 0 });
    expect(keepWarmFloor([], utc(6, 1, 12))).to.deep.equal({ replicas: 0 });
  });

  it('is the active window’s floor, from the start minute up to the end minute', () => {
    // Monday 1 June 2026, Berlin on CEST (UTC+2)
    expect(keepWarmFloor([officeHours], utc(6, 1, 6))).to.deep.equal({ replicas: 2, window: officeHours });
    expect(floorAt([officeHours], utc(6, 1, 16, 59))).to.equal(2);
    expect(floorAt([officeHours], utc(6, 1, 17))).to.equal(0);
    expect(floorAt([officeHours], utc(6, 6, 10))).to.equal(0); // Saturday
  });

  it('takes the highest floor of overlapping windows', () => {
    const lunch: KeepWarmWindow = { ...officeHours, startMinute: 12 * 60, endMinute: 14 * 60, replicas: 5 };
    expect(keepWarmFloor([lunch, officeHours], utc(6, 1, 10, 30))).to.deep.equal({ replicas: 5, window: lunch });
    expect(keepWarmFloor([lunch, officeHours], utc(6, 1, 12))).to.deep.equal({ replicas: 2, window: officeHours });
  });

  describe('across the Europe/Berlin DST changes of 2026', () => {
    it('opens at 08:00 local on both sides of the spring change (last Sunday of March)', () => {
      // Friday 27 March: CET, 08:00 local = 07:00 UTC
      expect(floorAt([officeHours], utc(3, 27, 6, 59))).to.equal(0);
      expect(floorAt([officeHours], utc(3, 27, 7))).to.equal(2);
      expect(floorAt([officeHours], utc(3, 27, 17, 59))).to.equal(2);
      expect(floorAt([officeHours], utc(3, 27, 18))).to.equal(0);
      // Monday 30 March: CEST, 08:00 local = 06:00 UTC
      expect(floorAt([officeHours], utc(3, 30, 5, 59))).to.equal(0);
      expect(floorAt([officeHours], utc(3, 30, 6))).to.equal(2);
      expect(floorAt([officeHours], utc(3, 30, 16, 59))).to.equal(2);
      expect(floorAt([officeHours], utc(3, 30, 17))).to.equal(0);
    });

    it('opens at 08:00 local on both sides of the autumn change (last Sunday of October)', () => {
      // Friday 23 October: CEST, 08:00 local = 06:00 UTC
      expect(floorAt([officeHours], utc(10, 23, 5, 59))).to.equal(0);
      expect(floorAt([officeHours], utc(10, 23, 6))).to.equal(2);
      // Monday 26 October: CET, 08:00 local = 07:00 UTC
      expect(floorAt([officeHours], utc(10, 26, 6, 30))).to.equal(0);
      expect(floorAt([officeHours], utc(10, 26, 7))).to.equal(2);
      expect(floorAt([officeHours], utc(10, 26, 17, 59))).to.equal(2);
      expect(floorAt([officeHours], utc(10, 26, 18))).to.equal(0);
    });

    it('covers a night window on the Sundays of the changes in local time', () => {
      const sundayNight: KeepWarmWindow = { ...officeHours, days: [0], startMinute: 60, endMinute: 4 * 60 };
      // 29 March: 02:00 CET jumps to 03:00 CEST at 01:00 UTC; the window ends at 04:00 CEST = 02:00 UTC
      expect(floorAt([sundayNight], utc(3, 29, 0))).to.equal(2); // 01:00 CET
      expect(floorAt([sundayNight], utc(3, 29, 1, 30))).to.equal(2); // 03:30 CEST
      expect(floorAt([sundayNight], utc(3, 29, 2))).to.equal(0); // 04:00 CEST
      // 25 October: 02:30 happens twice; the window ends at 04:00 CET = 03:00 UTC
      expect(floorAt([sundayNight], utc(10, 24, 23))).to.equal(2); // 01:00 CEST
      expect(floorAt([sundayNight], utc(10, 25, 0, 30))).to.equal(2); // 02:30 CEST
      expect(floorAt([sundayNight], utc(10, 25, 1, 30))).to.equal(2); // 02:30 CET
      expect(floorAt([sundayNight], utc(10, 25, 2, 59))).to.equal(2); // 03:59 CET
      expect(floorAt([sundayNight], utc(10, 25, 3))).to.equal(0); // 04:00 CET
    });
  });

  describe('a window past midnight', () => {
    // Friday 22:00 to Saturday 02:00, Berlin on CEST in June (UTC+2)
    const fridayNight: KeepWarmWindow = { ...officeHours, days: [5], startMinute: 22 * 60, endMinute: 2 * 60 };

    it('belongs to the day it starts', () => {
      expect(floorAt([fridayNight], utc(6, 5, 19, 59))).to.equal(0); // Fri 21:59
      expect(floorAt([fridayNight], utc(6, 5, 20))).to.equal(2); // Fri 22:00
      expect(floorAt([fridayNight], utc(6, 5, 23, 30))).to.equal(2); // Sat 01:30
      expect(floorAt([fridayNight], utc(6, 6, 0))).to.equal(0); // Sat 02:00
      expect(floorAt([fridayNight], utc(6, 6, 20, 30))).to.equal(0); // Sat 22:30: Saturday is not listed
      expect(floorAt([fridayNight], utc(6, 4, 23))).to.equal(0); // Fri 01:00: Thursday is not listed
    });

    it('wraps from Saturday into Sunday', () => {
      const saturdayNight: KeepWarmWindow = { ...fridayNight, days: [6] };
      expect(floorAt([saturdayNight], utc(6, 6, 23))).to.equal(2); // Sun 01:00
      expect(floorAt([saturdayNight], utc(6, 7, 23))).to.equal(0); // Mon 01:00
    });
  });

  it('treats an end of 24:00 as the end of the day', () => {
    const evening: KeepWarmWindow = { ...officeHours, days: [1], startMinute: 18 * 60, endMinute: 24 * 60 };
    expect(floorAt([evening], utc(6, 1, 21, 59))).to.equal(2); // Mon 23:59
    expect(floorAt([evening], utc(6, 1, 22))).to.equal(0); // Tue 00:00
  });

  it('evaluates each window in its own time zone', () => {
    const newYork: KeepWarmWindow = { ...officeHours, timeZone: 'America/New_York', replicas: 3 };
    // 13:00 UTC = 15:00 Berlin = 09:00 New York (EDT)
    expect(keepWarmFloor([officeHours, newYork], utc(6, 1, 13))).to.deep.equal({ replicas: 3, window: newYork });
    // 11:00 UTC = 07:00 New York
    expect(keepWarmFloor([officeHours, newYork], utc(6, 1, 11))).to.deep.equal({ replicas: 2, window: officeHours });
  });

  it('builds one Intl.DateTimeFormat per time zone, however often it is asked', () => {
    const original = Intl.DateTimeFormat;
    let constructed = 0;
    Intl.DateTimeFormat = new Proxy(original, {
      construct(target, args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
        constructed += 1;
        return new target(...args);
      },
    });
    try {
      const chatham: KeepWarmWindow = { ...officeHours, timeZone: 'Pacific/Chatham' };
      for (let hour = 0; hour < 48; hour += 1) keepWarmFloor([chatham, chatham], utc(6, 1, 0) + hour * 3_600_000);
      expect(constructed).to.equal(1);
    } finally {
      Intl.DateTimeFormat = original;
    }
  });
});

describe('describeWindow', () => {
  it('gives back the text form', () => {
    expect(describeWindow(officeHours)).to.equal('Mon-Fri 08:00-19:00 Europe/Berlin replicas=2');
  });

  it('reads back through the keep-warm parser to the same window', () => {
    const windows: KeepWarmWindow[] = [
      officeHours,
      { days: [0, 6], startMinute: 22 * 60, endMinute: 2 * 60, timeZone: 'America/New_York', replicas: 1 },
      { days: [1, 3, 5], startMinute: 0, endMinute: 24 * 60, timeZone: 'UTC', replicas: 4 },
    ];
    for (const window of windows) expect(parseKeepWarm(describeWindow(window))).to.deep.equal({ ok: true, value: [window] });
  });
});
