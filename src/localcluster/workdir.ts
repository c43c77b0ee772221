// Each control plane lives in a temporary directory that records its owner's pid. stop() removes
// it; an owner that was killed outright cannot, so the next start sweeps directories whose owner
// is gone.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'ebb-control-plane-';
const OWNER_FILE = 'owner.pid';

export function createWorkDir(): string {
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the directories of control planes whose owner process no longer exists. */
export function sweepAbandonedWorkDirs(): string[] {
  const swept: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // without an owner file nobody can tell whether it is in use: leave it
    }
    if (Number.isInteger(owner) && owner !== process.pid && !isAlive(owner)) {
      rmSync(dir, { recursive: true, force: true });
      swept.push(dir);
    }
  }
  return swept;
}
