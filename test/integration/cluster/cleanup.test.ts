// Nothing outlives the owner of a control plane: no process, no temporary directory, whether it
// stops normally, its test fails, or it is interrupted or killed.

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { sweepAbandonedWorkDirs } from '../../../src/localcluster/workdir.ts';
import { eventually } from '../../fixtures/control-plane.ts';

interface Owned {
  workDir: string;
  pids: number[];
}

interface Owner {
  child: ChildProcess;
  owned: Promise<Owned>;
  exited: Promise<number | null>;
}

/** Starts `command` and resolves `owned` with the first JSON line it prints. */
function startOwner(command: string, args: string[], env: Record<string, string> = {}): Owner {
  const child = spawn(command, args, { env: { ...process.env, EBB_TEST_TALLY: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const owned = new Promise<Owned>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((text) => text.trim().startsWith('{"workDir"'));
      if (line) resolve(JSON.parse(line.trim()) as Owned);
    });
    child.once('exit', () => reject(new Error(`owner exited before reporting:\n${output}`)));
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, owned, exited };
}

const owner = (mode: 'stop' | 'wait') => startOwner(process.execPath, ['--import', 'tsx', 'test/fixtures/control-plane-owner.ts', mode]);
const mochaOwner = (env: Record<string, string> = {}) =>
  startOwner(process.execPath, ['node_modules/mocha/bin/mocha.js', '--reporter', 'dot', 'test/fixtures/failing-suite.ts'], env);

/** A zombie still answers kill(pid, 0); only a live, non-zombie process counts as running. */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function expectNothingLeft(owned: Owned) {
  await eventually('every component process gone', () => (owned.pids.some(isRunning) ? undefined : true), 15_000);
  expect(existsSync(owned.workDir), `${owned.workDir} still exists`).to.equal(false);
}

describe('control plane cleanup', function () {
  this.timeout(120_000);
  const started: Owner[] = [];
  after(() => started.forEach(({ child }) => child.kill('SIGKILL')));
  const track = (o: Owner) => (started.push(o), o);

  it('leaves nothing behind after stop()', async () => {
    const o = track(owner('stop'));
    const owned = await o.owned;
    expect(owned.pids).to.have.length(5);
    expect(await o.exited).to.equal(0);
    await expectNothingLeft(owned);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`leaves nothing behind when the owner gets ${signal}`, async () => {
      const o = track(owner('wait'));
      const owned = await o.owned;
      expect(owned.pids.every(isRunning)).to.equal(true);
      o.child.kill(signal);
      await o.exited;
      await expectNothingLeft(owned);
    });
  }

  it('kills the components when the owner is SIGKILLed, and the next start sweeps its directory', async () => {
    const o = track(owner('wait'));
    const owned = await o.owned;
    o.child.kill('SIGKILL');
    await o.exited;
    await eventually('every component process gone', () => (owned.pids.some(isRunning) ? undefined : true), 15_000);
    expect(existsSync(owned.workDir)).to.equal(true);
    expect(sweepAbandonedWorkDirs()).to.include(owned.workDir);
    expect(existsSync(owned.workDir)).to.equal(false);
  });

  it('leaves nothing behind when a test that owns it fails', async () => {
    const o = track(mochaOwner());
    const owned = await o.owned;
    expect(await o.exited).to.equal(1);
    await expectNothingLeft(owned);
  });

  it('leaves nothing behind when a mocha run is interrupted with Ctrl-C', async () => {
    const o = track(mochaOwner({ EBB_FIXTURE_HANG: '1' }));
    const owned = await o.owned;
    o.child.kill('SIGINT');
    expect(await o.exited).to.not.equal(0);
    await expectNothingLeft(owned);
  });
});
