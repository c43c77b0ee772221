// A small Go program of ours that a benchmark runs as its peer (e.g. the VPA's recommender), built
// like the control-plane binaries: from Go modules into the ebb cache, under a temporary name, and
// only when missing. The cached name carries a hash of the program's source, so an edited main.go
// (or a changed go.mod) is built again instead of running a stale binary.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkGo, ebbCacheDir, goBuildInto, type Progress } from './assets.ts';

/** The path of the program built from `moduleDir` (a Go main module), building it when needed. */
export async function ensureGoPeer(moduleDir: string, name: string, progress: Progress): Promise<string> {
  const dir = join(ebbCacheDir(), 'peers');
  const binary = `${name}-${sourceHash(moduleDir)}`;
  const path = join(dir, binary);
  if (existsSync(path)) return path;
  await checkGo(`to build the benchmark peer ${name} once`, `Install Go ≥ 1.26 (the version its go.mod asks for).`);
  mkdirSync(dir, { recursive: true });
  progress(`building ${name} from ${moduleDir} into ${dir} …`);
  const started = Date.now();
  // -mod=readonly: a go.sum that does not cover the build is an error to fix in the checkout,
  // never something the build rewrites there.
  await goBuildInto(dir, binary, { packages: ['.'], moduleDir, env: { GOFLAGS: '-mod=readonly' } }, progress);
  progress(`built ${name} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  for (const stale of readdirSync(dir)) if (stale.startsWith(`${name}-`) && stale !== binary) rmSync(join(dir, stale), { force: true });
  return path;
}

function sourceHash(moduleDir: string): string {
  const hash = createHash('sha256');
  const sources = readdirSync(moduleDir)
    .filter((file) => file.endsWith('.go') || file === 'go.mod' || file === 'go.sum')
    .sort();
  for (const file of sources)
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(moduleDir, file)))
      .update('\0');
  return hash.digest('hex').slice(0, 12);
}
