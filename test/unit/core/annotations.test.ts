import { expect } from 'chai';
import { formatAnnotations, parseAnnotations } from '../../../src/core/annotations.ts';
import { SETTING_NAMES } from '../../../src/core/setting-schema.ts';

describe('parseAnnotations', () => {
  it('reads every setting, ignores other prefixes and the keys ebb writes', () => {
    const parsed = parseAnnotations({
      'ebb.dev/enabled': 'true',
      'ebb.dev/min-replicas': '0',
      'ebb.dev/max-replicas': '20',
      'ebb.dev/target-concurrency': '50',
      'ebb.dev/idle-after': '10m',
      'ebb.dev/scale-down-delay': '30s',
      'ebb.dev/keep-warm': 'Sat 10:00-14:00',
      'ebb.dev/paused': 'false',
      'ebb.dev/resize': 'in-place',
      'ebb.dev/cpu-min': '50m',
      'ebb.dev/cpu-max': '2',
      'ebb.dev/memory-min': '64Mi',
      'ebb.dev/memory-max': '1Gi',
      'ebb.dev/port': 'web',
      'ebb.dev/injected': '{"v":1}',
      'ebb.dev/status': '{}',
      'example.com/min-replicas': 'whatever',
    });
    expect(parsed.errors).to.deep.equal([]);
    expect(parsed.values).to.deep.equal({
      enabled: true,
      'min-replicas': 0,
      'max-replicas': 20,
      'target-concurrency': 50,
      'idle-after': 600_000,
      'scale-down-delay': 30_000,
      'keep-warm': [{ days: [6], startMinute: 600, endMinute: 840, timeZone: 'UTC', replicas: 1 }],
      paused: false,
      resize: 'in-place',
      'cpu-min': 50,
      'cpu-max': 2000,
      'memory-min': 64 * 2 ** 20,
      'memory-max': 2 ** 30,
      port: 'web',
    });
    expect(Object.keys(parsed.values)).to.have.members([...SETTING_NAMES]);
  });

  it('reads a numeric port as a number', () => {
    expect(parseAnnotations({ 'ebb.dev/port': '8080' }).values).to.deep.equal({ port: 8080 });
  });

  // Every invalid value: an error that names the key, the value and what is accepted.
  const invalid: [string, string, string][] = [
    ['enabled', 'yes', 'expected "true" or "false"'],
    ['enabled', 'True', 'expected "true" or "false"'],
    ['min-replicas', '-1', 'expected a whole number ≥ 0'],
    ['min-replicas', '1.5', 'expected a whole number ≥ 0'],
    ['min-replicas', '', 'expected a whole number ≥ 0'],
    ['max-replicas', '0', 'expected a whole number ≥ 1'],
    ['max-replicas', 'ten', 'expected a whole number ≥ 1'],
    ['target-concurrency', '0', 'expected a whole number ≥ 1'],
    ['idle-after', '300', 'expected a duration such as 250ms, 30s, 5m or 1h30m'],
    ['scale-down-delay', 'soon', 'expected a duration such as 250ms, 30s, 5m or 1h30m'],
    ['keep-warm', 'Mon-Fry 08:00-19:00', 'expected Mon, Tue, Wed, Thu, Fri, Sat, Sun or a range such as Mon-Fri'],
    ['keep-warm', 'weekdays', 'expected a window such as "Mon-Fri 08:00-19:00 Europe/Berlin"'],
    ['keep-warm', 'Mon 08:00', 'expected HH:MM-HH:MM'],
    ['paused', '1', 'expected "true" or "false"'],
    ['resize', 'sometimes', 'expected off | initial | in-place | evict | auto'],
    ['cpu-min', 'lots', 'expected a CPU quantity such as 250m, 0.5 or 2'],
    ['cpu-max', '-1', 'expected a CPU quantity such as 250m, 0.5 or 2'],
    ['memory-min', '1Mb', 'expected a memory quantity such as 512Mi, 1Gi, 1G or 1e9'],
    ['memory-max', 'big', 'expected a memory quantity such as 512Mi, 1Gi, 1G or 1e9'],
    ['port', '0', 'expected a container port number (1-65535) or port name'],
    ['port', '70000', 'expected a container port number (1-65535) or port name'],
    ['port', 'HTTP', 'expected a container port number (1-65535) or port name'],
    ['port', 'a-very-long-port-name', 'expected a container port number (1-65535) or port name'],
  ];
  for (const [name, value, accepted] of invalid) {
    it(`refuses ebb.dev/${name}: ${JSON.stringify(value)}`, () => {
      const key = `ebb.dev/${name}`;
      const parsed = parseAnnotations({ [key]: value });
      expect(parsed.values).to.deep.equal({});
      expect(parsed.errors).to.have.length(1);
      expect(parsed.errors[0]).to.deep.include({ key, value, setting: name });
      expect(parsed.errors[0]!.message).to.match(new RegExp(`^${key}: ${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not accepted: `));
      expect(parsed.errors[0]!.message).to.include(accepted);
    });
  }

  it('reports an unknown ebb.dev/ key with the closest known key and the full list', () => {
    const parsed = parseAnnotations({ 'ebb.dev/min-replica': '1', 'ebb.dev/min-replicas': '2' });
    expect(parsed.values).to.deep.equal({ 'min-replicas': 2 });
    expect(parsed.errors).to.have.length(1);
    const [error] = parsed.errors;
    expect(error).to.deep.include({ key: 'ebb.dev/min-replica', value: '1' });
    expect(error!.message).to.include('ebb.dev/min-replica is not an ebb annotation: did you mean ebb.dev/min-replicas?');
    expect(error!.message).to.include('ebb.dev/keep-warm').and.include('ebb.dev/memory-max');
  });

  it('gives no "did you mean" for a key far from every known one', () => {
    const [error] = parseAnnotations({ 'ebb.dev/frobnicate': 'x' }).errors;
    expect(error!.message).to.not.include('did you mean');
    expect(error!.message).to.include('known keys are');
  });

  it('writes settings back as annotations that read to the same values', () => {
    const values = parseAnnotations({
      'ebb.dev/idle-after': '90m',
      'ebb.dev/cpu-max': '1500m',
      'ebb.dev/keep-warm': 'Mon 08:00-09:00 Europe/Paris replicas=2',
    }).values;
    const written = formatAnnotations(values);
    expect(written).to.deep.equal({
      'ebb.dev/idle-after': '1h30m',
      'ebb.dev/cpu-max': '1500m',
      'ebb.dev/keep-warm': 'Mon 08:00-09:00 Europe/Paris replicas=2',
    });
    expect(parseAnnotations(written).values).to.deep.equal(values);
  });
});
