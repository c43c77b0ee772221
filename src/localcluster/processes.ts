// Child processes of the local control plane, supervised so that none outlives its owner:
// - stop() asks politely (SIGTERM), then insists (SIGKILL);
// - killNow() is for the owner's 'exit' hook, when it exits without stopping them;
// - if the owner is killed outright (SIGKILL), the kernel sends them SIGKILL too, because each is
//   started through `setpriv --pdeathsig KILL`.

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';

let signalsTurnIntoExit = false;

/**
 * Without a handler, SIGINT/SIGTERM end Node without running 'exit' hooks; with one that exits,
 * they do, so owners can clean up in an 'exit' hook. A program with its own handler keeps it.
 */
function turnSignalsIntoExit() {
  if (signalsTurnIntoExit) return;
  signalsTurnIntoExit = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
  }
}

const PDEATHSIG_WRAPPER = '/usr/bin/setpriv';

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<string>;
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, synchronously: for 'exit' hooks, where nothing asynchronous runs any more. */
  killNow(): void;
}

export function startProcess(name: string, binary: string, args: string[], logFile: string, env: Record<string, string> = {}): ManagedProcess {
  turnSignalsIntoExit();
  const log = createWriteStream(logFile, { flags: 'a' });
  const [command, commandArgs] = existsSync(PDEATHSIG_WRAPPER) ? [PDEATHSIG_WRAPPER, ['--pdeathsig', 'KILL', '--', binary, ...args]] : [binary, args];
  // Its own process group: a Ctrl-C in the terminal reaches the owner, which stops the components
  // in order, instead of reaching every component at once.
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(signal ?? `exit ${code}`);
    });
    child.once('error', (error) => {
      resolve(`failed to start: ${error.message}`);
    });
  });
  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      log.end();
    },
    killNow() {
      child.kill('SIGKILL');
    },
  };
}
