import { expect } from 'chai';
import { agentConfigFromEnv } from '../../../agent/node/config.ts';
import { interceptorConfigFromEnv } from '../../../agent/interceptor/config.ts';
import { controllerConfig } from '../../../src/controller/config.ts';
import { DEFAULT_TUNING } from '../../../src/core/decider/index.ts';
import { EnvironmentError, listenPort, optional, readEnvironment, required, text, variable } from '../../../src/program/environment.ts';
import { createLog } from '../../../src/program/log.ts';

const problemsOf = (read: () => unknown): readonly string[] => {
  try {
    read();
  } catch (error) {
    if (error instanceof EnvironmentError) return error.problems;
    throw error;
  }
  expect.fail('expected an EnvironmentError');
};

describe('program environment', () => {
  const TABLE = {
    port: variable('EBB_PORT', listenPort, 8080),
    name: required('EBB_NAME', text),
    extra: optional('EBB_EXTRA', text),
  };

  it('gives defaults for unset and empty variables alike', () => {
    expect(readEnvironment(TABLE, { EBB_NAME: 'x', EBB_PORT: '' })).to.deep.equal({ port: 8080, name: 'x', extra: undefined });
  });

  it('reports every bad or missing variable with its value and what is accepted', () => {
    expect(problemsOf(() => readEnvironment(TABLE, { EBB_PORT: '70000', EBB_NAME: '' }))).to.deep.equal([
      'EBB_PORT: "70000" is not accepted: expected a whole number from 0 to 65535',
      'EBB_NAME is required',
    ]);
  });

  it('holds every program to the same rules', () => {
    expect(problemsOf(() => agentConfigFromEnv({ NODE_NAME: 'n', EBB_AGENT_PORT: '70000' }))).to.deep.equal([
      'EBB_AGENT_PORT: "70000" is not accepted: expected a whole number from 0 to 65535',
    ]);
    expect(problemsOf(() => agentConfigFromEnv({ NODE_NAME: 'n', EBB_AGENT_PORT: '1.5' }))).to.have.length(1);
    const sidecar = { EBB_LISTEN_PORT: '18080', EBB_APP_PORT: '8080', EBB_WORKLOAD: 'shop/web' };
    expect(interceptorConfigFromEnv({ ...sidecar, EBB_DRAIN_SECONDS: '' }).drainMs).to.equal(25_000);
    expect(problemsOf(() => interceptorConfigFromEnv({ ...sidecar, EBB_WORKLOAD: 'shop' }))).to.deep.equal([
      'EBB_WORKLOAD: "shop" is not accepted: expected namespace/deployment',
    ]);
    expect(problemsOf(() => controllerConfig({ EBB_ACTIVATOR_PORTS: '18000-19000' }))).to.deep.equal([
      'EBB_ACTIVATOR_PORTS: "18000-19000" is not accepted: it holds the agents\' own port 18092 (EBB_AGENT_PORT)',
    ]);
    expect(controllerConfig({ POD_NAMESPACE: '' }).namespace).to.equal('ebb-system');
  });

  it("takes the decider's tuning and the lease timings with their defaults, refusing what is out of range or does not fit together", () => {
    expect(controllerConfig({}).tuning).to.deep.equal(DEFAULT_TUNING);
    expect(controllerConfig({ EBB_STABLE_WINDOW_MS: '120000', EBB_MAX_SCALE_UP_RATE: '2.5' }).tuning).to.include({
      stableWindowMs: 120_000,
      maxScaleUpRate: 2.5,
    });
    expect(problemsOf(() => controllerConfig({ EBB_STABLE_WINDOW_MS: '1000', EBB_MAX_SCALE_DOWN_RATE: '1' }))).to.deep.equal([
      'EBB_STABLE_WINDOW_MS: "1000" is not accepted: expected a whole number from 6000 to 3600000',
      'EBB_MAX_SCALE_DOWN_RATE: "1" is not accepted: expected a number from 1.1 to 1000',
    ]);
    expect(problemsOf(() => controllerConfig({ EBB_STABLE_WINDOW_MS: '10000', EBB_PANIC_WINDOW_MS: '20000' }))).to.deep.equal([
      'EBB_PANIC_WINDOW_MS: "20000" is not accepted: the panic window must not be longer than the stable window (10000 ms)',
    ]);
    expect(problemsOf(() => controllerConfig({ EBB_LEASE_RENEW_DEADLINE_MS: '2000', EBB_LEASE_RETRY_PERIOD_MS: '2000' }))).to.deep.equal([
      'EBB_LEASE_RETRY_PERIOD_MS: "2000" is not accepted: it must be shorter than EBB_LEASE_RENEW_DEADLINE_MS=2000, or the leader could not try to renew before its deadline',
    ]);
  });

  it("reads a static stand-in's empty list as none, an empty variable as unset", () => {
    expect(agentConfigFromEnv({ EBB_STATIC_TARGETS: 'none' })).to.include({ staticTargets: '', nodeName: 'static' });
    expect(problemsOf(() => agentConfigFromEnv({ EBB_STATIC_TARGETS: '' }))).to.deep.equal([
      'NODE_NAME is required (set it from the downward API: spec.nodeName)',
    ]);
  });
});

describe('program log', () => {
  it('writes one JSON object per line: time, level, component, msg, then the fields', () => {
    const lines: string[] = [];
    createLog('agent', (line) => lines.push(line))('warn', 'activator port failed', { port: 20000 });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/\n$/);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(entry)).to.deep.equal(['time', 'level', 'component', 'msg', 'port']);
    expect(entry).to.include({ level: 'warn', component: 'agent', msg: 'activator port failed', port: 20000 });
  });
});
